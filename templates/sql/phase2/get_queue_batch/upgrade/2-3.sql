-- Revision 3: the claim's body changes, its signature and its type do not; but deploy.sql
-- creates the type, which cannot be replaced: the claim and its type are dropped and made
-- again from deploy.sql, in the same transaction.
DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
