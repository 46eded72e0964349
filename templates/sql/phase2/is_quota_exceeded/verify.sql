SELECT toolkit.check_private_function('public.is_quota_exceeded{{ suffix }}()');
SELECT toolkit.check_private_function('public.get_quota_status{{ suffix }}()');
SELECT toolkit.check(public.is_quota_exceeded{{ suffix }}() IS NOT NULL, 'is_quota_exceeded{{ suffix }}() answers');
SELECT toolkit.check((public.get_quota_status{{ suffix }}() ? 'calls_left') AND (public.get_quota_status{{ suffix }}() ? 'bytes_left'),
                     'get_quota_status{{ suffix }}() reports calls and bytes left');
-- Behaviour, undone by the verify's rollback: no wait while a call is left; with the budget's
-- one call just counted, a wait until it leaves the ring (the window and the slack on, within
-- a slot).
DO $$
DECLARE
    n    integer;
    slot bigint;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    PERFORM toolkit.check((public.get_quota_status{{ suffix }}() ->> 'call_wait_ms')::bigint = 0,
                          'get_quota_status{{ suffix }}() reports no wait for a call while the budget has one left');
    SELECT cardinality(s.call_ring) - 1, floor(extract(epoch FROM clock_timestamp()) * 1000 / s.ring_slot_ms)::bigint
    INTO n, slot FROM public.api_quota_state{{ suffix }} AS s;
    UPDATE public.api_quota_state{{ suffix }} AS s
    SET call_ring[1] = 1, call_ring[(slot % n)::integer + 2] = 1, ring_epoch = slot;
    UPDATE public.queue_config{{ suffix }} SET calls_per_window = 1;
    PERFORM toolkit.check((SELECT (public.get_quota_status{{ suffix }}() ->> 'call_wait_ms')::bigint
                                  BETWEEN c.call_window_seconds * 1000 + c.call_slack_ms - s.ring_slot_ms
                                      AND c.call_window_seconds * 1000 + c.call_slack_ms + s.ring_slot_ms
                           FROM public.queue_config{{ suffix }} AS c, public.api_quota_state{{ suffix }} AS s),
                          'get_quota_status{{ suffix }}() reports the wait until a spent budget''s call leaves the ring');
END
$$;
