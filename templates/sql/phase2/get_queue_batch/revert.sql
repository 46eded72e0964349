DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
