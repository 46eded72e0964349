DROP FUNCTION IF EXISTS public.take_call_permits{{ suffix }}(bigint[], bigint[], integer[]);
DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
