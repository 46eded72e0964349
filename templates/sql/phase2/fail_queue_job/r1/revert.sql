DROP FUNCTION IF EXISTS public.fail_queue_job{{ suffix }}(bigint, text, boolean, bigint);
