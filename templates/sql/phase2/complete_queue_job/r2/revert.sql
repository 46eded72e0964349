DROP FUNCTION IF EXISTS public.complete_queue_job{{ suffix }}(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS public.complete_queue_jobs{{ suffix }}(bigint[], bigint[], bigint[]);
DROP FUNCTION IF EXISTS public.refuse_stale_acks{{ suffix }}(text, bigint[], bigint[], bigint);
DROP FUNCTION IF EXISTS public.record_api_usage{{ suffix }}(bigint, bigint, bigint, bigint, bigint, bigint);
