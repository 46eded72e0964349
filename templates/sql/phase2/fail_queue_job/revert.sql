DROP FUNCTION IF EXISTS public.fail_queue_job{{ suffix }}(bigint, bigint, text, boolean, bigint);
