SELECT toolkit.check_private_function('public.get_queue_batch{{ suffix }}(text, integer)');
-- Behaviour, undone by the verify's rollback: the higher priority comes first, a job that is
-- not due stays, and the claimed job moves to processing with its attempt counted.
DO $$
DECLARE
    got record;
BEGIN
    -- A live system may have spent its budget; this rolled-back check must not depend on it.
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority, scheduled_for)
    VALUES ('VERIFY1', 'quote', -1000, now()), ('VERIFY2', 'quote', 1000000, now()),
           ('VERIFY3', 'quote', 2000000, now() + interval '1 hour');
    SELECT * INTO got FROM public.get_queue_batch{{ suffix }}('verify', 1);
    PERFORM toolkit.check(got.symbol = 'VERIFY2' AND got.attempts = 1,
                          'get_queue_batch{{ suffix }} claims the highest-priority due job first');
    PERFORM toolkit.check(EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_processing WHERE symbol = 'VERIFY2'),
                          'a claimed job moves to the processing partition');
END
$$;
