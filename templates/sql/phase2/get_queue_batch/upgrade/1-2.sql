-- Revision 2: the claim returns its lease (a new field of queue_claim) and the call permits
-- exist. A composite type cannot gain a field under a function that returns it: the claim
-- and its type are dropped and made again from deploy.sql, in the same transaction.
DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
