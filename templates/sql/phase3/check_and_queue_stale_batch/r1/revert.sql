DROP FUNCTION IF EXISTS public.check_and_queue_stale_batch{{ suffix }}(text, text[], integer);
