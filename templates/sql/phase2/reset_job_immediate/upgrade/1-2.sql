-- Revision 2: reset takes the claim's lease; the signature without it is dropped.
DROP FUNCTION IF EXISTS public.reset_job_immediate{{ suffix }}(bigint, text, bigint);
