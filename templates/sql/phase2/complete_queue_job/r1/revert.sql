DROP FUNCTION IF EXISTS public.complete_queue_job{{ suffix }}(bigint, bigint);
DROP FUNCTION IF EXISTS public.complete_queue_jobs{{ suffix }}(bigint[], bigint[]);
DROP FUNCTION IF EXISTS public.record_api_usage{{ suffix }}(bigint, bigint, bigint, bigint, bigint, bigint);
