-- Revision 2: failure takes the claim's lease; the signature without it is dropped.
DROP FUNCTION IF EXISTS public.fail_queue_job{{ suffix }}(bigint, text, boolean, bigint);
