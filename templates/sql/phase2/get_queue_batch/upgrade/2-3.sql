-- Revision 3: the claim and the permits read the call ring in its slots, and the claim
-- reserves its bytes in one update while the minute's cache stands. The deploy runs again; its
-- type cannot be made again under the claim that returns it, so both go first, in the same
-- transaction.
DROP FUNCTION IF EXISTS public.get_queue_batch{{ suffix }}(text, integer);
DROP TYPE IF EXISTS public.queue_claim{{ suffix }};
