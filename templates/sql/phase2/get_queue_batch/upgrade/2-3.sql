-- Revision 3: the claim and the permits read the call ring in its slots. The deploy runs
-- again; its type cannot be made again under the claim that returns it, so both go first,
-- in the same transaction.
DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
