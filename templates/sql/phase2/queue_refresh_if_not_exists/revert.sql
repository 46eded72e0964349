DROP FUNCTION IF EXISTS public.queue_refresh_if_not_exists{{ suffix }}(text, text, integer);
DROP FUNCTION IF EXISTS public.queue_refreshes{{ suffix }}(text[], text[], integer[]);
