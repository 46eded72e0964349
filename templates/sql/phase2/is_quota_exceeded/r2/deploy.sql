{% from '_macros.sql' import private_definer, service_role_only -%}
-- Where the budgets stand now. Reads without locking: a claim that runs at the same time
-- may have handed out more, so the claim itself never relies on this (it recomputes and
-- writes conditionally); callers use it to skip work early (the presence check, the processor loop).
{% call private_definer('public.get_quota_status' ~ suffix, returns='jsonb', volatility='STABLE') %}
DECLARE
    cfg   public.queue_config{{ suffix }};
    st    public.api_quota_state{{ suffix }};
    calls bigint;
    used  bigint;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }};
    -- The ring at the slot of now (its slots are ring_slot_ms long): its first element, the total.
    calls := (public.quota_ring_advance{{ suffix }}(
        st.call_ring, st.ring_epoch,
        pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000 / st.ring_slot_ms)::bigint))[1];
    SELECT w.bytes_used INTO used FROM public.quota_window_bytes{{ suffix }}(pg_catalog.clock_timestamp(), st, cfg.byte_window_days) AS w;
    RETURN pg_catalog.jsonb_build_object(
        'calls_used', calls,
        'calls_limit', cfg.calls_per_window,
        'calls_left', GREATEST(cfg.calls_per_window - calls, 0),
        'call_window_seconds', cfg.call_window_seconds,
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
