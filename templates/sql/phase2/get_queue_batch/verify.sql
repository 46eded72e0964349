SELECT toolkit.check_private_function('public.get_queue_batch{{ suffix }}(text, integer)');
SELECT toolkit.check_private_function('public.take_call_permits{{ suffix }}(bigint[], bigint[], integer[])');
-- Behaviour, undone by the verify's rollback: the higher priority comes first, a job that is
-- not due stays, and the claimed job moves to processing with its attempt counted and a lease.
DO $$
DECLARE
    got   record;
    other record;
    n     integer;
    held  bigint;
BEGIN
    -- A live system may have spent its budget; this rolled-back check must not depend on it.
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    UPDATE public.processor_state{{ suffix }} SET breaker_state = 'closed';
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority, scheduled_for)
    VALUES ('VERIFY1', 'quote', -1000, now()), ('VERIFY2', 'quote', 1000000, now()),
           ('VERIFY3', 'quote', 2000000, now() + interval '1 hour');
    SELECT s.reserved_total INTO held FROM public.api_quota_state{{ suffix }} AS s;
    SELECT * INTO got FROM public.get_queue_batch{{ suffix }}('verify', 1);
    -- At least: live claims may reserve theirs meanwhile.
    PERFORM toolkit.check((SELECT s.reserved_total FROM public.api_quota_state{{ suffix }} AS s) >= held + got.estimated_bytes,
                          'a claim reserves its jobs'' estimated bytes in the byte budget');
    PERFORM toolkit.check(got.symbol = 'VERIFY2' AND got.attempts = 1 AND got.lease IS NOT NULL,
                          'get_queue_batch{{ suffix }} claims the highest-priority due job first, under a lease');
    PERFORM toolkit.check(EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_processing
                                  WHERE symbol = 'VERIFY2' AND lease = got.lease),
                          'a claimed job moves to the processing partition with its lease');
    SELECT * INTO other FROM public.get_queue_batch{{ suffix }}('verify', 1);
    PERFORM toolkit.check(other.lease > got.lease, 'each claim takes a new lease');
    -- Permits: granted to the lease holder, counted in the ring; refused to anyone else.
    SELECT count(*) INTO n FROM public.take_call_permits{{ suffix }}(ARRAY[got.id, got.id], ARRAY[got.lease, other.lease],
                                                                      ARRAY[1, 1]) AS p
    WHERE (p.granted AND p.reason IS NULL) OR (NOT p.granted AND p.reason = 'lease');
    PERFORM toolkit.check(n = 2, 'take_call_permits{{ suffix }} grants the lease holder''s calls and refuses a stale lease');
    PERFORM toolkit.check((SELECT s.call_ring[1] = 1 AND (SELECT sum(x) FROM unnest(s.call_ring[2:]) AS x) = 1
                           FROM public.api_quota_state{{ suffix }} AS s),
                          'a permitted call is counted in the call ring (a slot and the total)');
END
$$;
