DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
