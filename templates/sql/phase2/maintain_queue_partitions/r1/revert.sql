DROP FUNCTION IF EXISTS public.purge_queue_history{{ suffix }}(interval, integer);
DROP FUNCTION IF EXISTS public.retry_failed_jobs{{ suffix }}(text, integer);
DROP FUNCTION IF EXISTS public.maintain_queue_partitions{{ suffix }}();
