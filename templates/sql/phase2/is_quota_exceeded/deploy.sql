{% from '_macros.sql' import private_definer, service_role_only -%}
-- Where the budgets stand now. Reads without locking: a claim that runs at the same time
-- may have handed out more, so the claim itself never relies on this (it recomputes and
-- writes conditionally); callers use it to skip work early (the presence check, the processor loop).
--
-- call_wait_ms: how long from now until the call budget has a call to permit (0: it has one
-- now). A processor whose claim came back empty while jobs are due (a claim takes no more
-- jobs than calls are left) sleeps this long instead of polling, so that a call is used when
-- it frees rather than up to a poll later. Calls leave the ring a slot at a time: a slot's
-- calls stay counted until the clock reaches the slot as many slots on as the ring holds
-- (quota_ring_advance), so the wait ends when the oldest slots whose calls must go for one to
-- be free have gone. A hint: the permit decides.
{% call private_definer('public.get_quota_status' ~ suffix, returns='jsonb', volatility='STABLE') %}
DECLARE
    cfg     public.queue_config{{ suffix }};
    st      public.api_quota_state{{ suffix }};
    calls   bigint;
    used    bigint;
    v_ms    numeric;
    v_slot  bigint;
    v_ring  integer[];
    v_slots integer;
    freed   bigint := 0;
    wait_ms bigint;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }};
    -- The ring at the slot of now (its slots are ring_slot_ms long): its first element, the total.
    v_ms := EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000;
    v_slot := pg_catalog.floor(v_ms / st.ring_slot_ms)::bigint;
    v_ring := public.quota_ring_advance{{ suffix }}(st.call_ring, st.ring_epoch, v_slot);
    v_slots := pg_catalog.cardinality(v_ring) - 1;  -- the total, then the slots
    calls := v_ring[1];
    -- No call left: the slots still counted, oldest first (the oldest is v_slot - v_slots + 1,
    -- and slot s leaves when the clock reaches slot s + v_slots), up to the first after whose
    -- leaving fewer calls than the budget stay counted. A budget of no calls never frees one.
    wait_ms := 0;
    IF calls >= cfg.calls_per_window THEN
        wait_ms := v_slots * st.ring_slot_ms;
        FOR k IN 1 .. v_slots LOOP
            freed := freed + v_ring[((v_slot - v_slots + k) % v_slots)::integer + 2];
            IF calls - freed < cfg.calls_per_window THEN
                wait_ms := pg_catalog.ceil((v_slot + k) * st.ring_slot_ms - v_ms);
                EXIT;
            END IF;
        END LOOP;
    END IF;
    SELECT w.bytes_used INTO used FROM public.quota_window_bytes{{ suffix }}(pg_catalog.clock_timestamp(), st, cfg.byte_window_days) AS w;
    RETURN pg_catalog.jsonb_build_object(
        'calls_used', calls,
        'calls_limit', cfg.calls_per_window,
        'calls_left', GREATEST(cfg.calls_per_window - calls, 0),
        'call_window_seconds', cfg.call_window_seconds,
        'call_wait_ms', wait_ms,
        'bytes_used', used,
        'bytes_limit', cfg.bytes_per_window,
        'bytes_left', GREATEST(cfg.bytes_per_window - used, 0),
        'byte_window_days', cfg.byte_window_days,
        'exceeded', calls >= cfg.calls_per_window OR used >= cfg.bytes_per_window);
END
{% endcall %}

{% call private_definer('public.is_quota_exceeded' ~ suffix, returns='boolean', language='sql',
                        volatility='STABLE') %}
    SELECT (public.get_quota_status{{ suffix }}() ->> 'exceeded')::boolean
{% endcall %}

{{ service_role_only(['public.get_quota_status' ~ suffix ~ '()',
                      'public.is_quota_exceeded' ~ suffix ~ '()']) }}
