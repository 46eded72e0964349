DROP FUNCTION IF EXISTS public.reset_job_immediate{{ suffix }}(bigint, bigint, text, bigint);
