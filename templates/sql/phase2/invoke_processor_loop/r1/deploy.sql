{% from '_macros.sql' import private_definer, service_role_only -%}
-- The processor's pacemaker, called every minute by pg_cron (or by the external ticker):
-- one caller at a time (advisory lock 44), stuck jobs recovered first, then, unless the
-- circuit breaker is open, nothing is due, or the budget is spent, the queue processor is
-- invoked through pg_net in postgres scheduler mode; in external mode it says so, and the
-- external ticker (which called it) invokes the processor itself.
CREATE TABLE public.processor_state{{ suffix }} (
    id                   boolean     PRIMARY KEY DEFAULT true CHECK (id),
    breaker_state        text        NOT NULL DEFAULT 'closed'
                                     CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer     NOT NULL DEFAULT 0,
    opened_at            timestamptz,
    probe_started_at     timestamptz,
    last_invoked_at      timestamptz,
    last_result          jsonb,
    last_error           text,
    last_success_at      timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.processor_state{{ suffix }} DEFAULT VALUES;
ALTER TABLE public.processor_state{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.processor_state{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.processor_state{{ suffix }} TO service_role;

-- What the processor (or the pg_net response check) reports after a run: closed counts
-- consecutive failures up to the threshold, then opens; a half-open probe closes the circuit
-- on success and reopens it on failure.
{% call private_definer('public.record_processor_result' ~ suffix, 'p_ok boolean, p_error text',
                        returns='text') %}
DECLARE
    cfg public.queue_config{{ suffix }};
    st  public.processor_state{{ suffix }};
    nxt text;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT st FROM public.processor_state{{ suffix }} FOR UPDATE;
    IF p_ok THEN
        nxt := 'closed';
        UPDATE public.processor_state{{ suffix }}
        SET breaker_state = nxt, consecutive_failures = 0, opened_at = NULL, probe_started_at = NULL,
            last_success_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp();
    ELSE
        nxt := CASE
                   WHEN st.breaker_state = 'half_open' THEN 'open'
                   WHEN st.breaker_state = 'open' THEN 'open'
                   WHEN st.consecutive_failures + 1 >= cfg.breaker_failure_threshold THEN 'open'
                   ELSE 'closed'
               END;
        UPDATE public.processor_state{{ suffix }}
        SET breaker_state = nxt,
            consecutive_failures = st.consecutive_failures + 1,
            opened_at = CASE WHEN nxt = 'open' AND st.breaker_state <> 'open' THEN pg_catalog.clock_timestamp()
                             ELSE st.opened_at END,
            probe_started_at = NULL,
            last_error = p_error, updated_at = pg_catalog.clock_timestamp();
        IF nxt = 'open' AND st.breaker_state <> 'open' THEN
            PERFORM public.log_ops_event('queue-processor', 'warning', 'circuit breaker opened',
                pg_catalog.jsonb_build_object('consecutive_failures', st.consecutive_failures + 1, 'error', p_error));
        END IF;
    END IF;
    RETURN nxt;
END
{% endcall %}

{% call private_definer('public.invoke_processor_loop' ~ suffix, returns='jsonb') %}
DECLARE
    cfg       public.queue_config{{ suffix }};
    st        public.processor_state{{ suffix }};
    recovered integer;
    result    jsonb;
    probe     boolean := false;
{%- if settings.scheduler_mode == 'postgres' %}
    key       text;
    request   bigint;
{%- endif %}
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    IF NOT pg_catalog.pg_try_advisory_xact_lock(cfg.processor_lock_id) THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason',
            pg_catalog.format('another invocation holds advisory lock %s', cfg.processor_lock_id));
    END IF;
    recovered := public.recover_stuck_jobs{{ suffix }}();
    SELECT * INTO STRICT st FROM public.processor_state{{ suffix }} FOR UPDATE;

    IF st.breaker_state = 'open' THEN
        IF pg_catalog.clock_timestamp() < st.opened_at + pg_catalog.make_interval(secs => cfg.breaker_open_seconds) THEN
            result := pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'circuit breaker open',
                                                    'retry_at', st.opened_at + pg_catalog.make_interval(secs => cfg.breaker_open_seconds));
        ELSE
            probe := true;
        END IF;
    ELSIF st.breaker_state = 'half_open' THEN
        -- One probe at a time; a probe that never reported back is given up after the open time.
        IF st.probe_started_at IS NOT NULL
           AND pg_catalog.clock_timestamp() < st.probe_started_at + pg_catalog.make_interval(secs => cfg.breaker_open_seconds) THEN
            result := pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'waiting for the half-open probe');
        ELSE
            probe := true;
        END IF;
    END IF;

    IF result IS NULL AND NOT EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_pending AS q
                                      WHERE q.scheduled_for <= pg_catalog.clock_timestamp()) THEN
        result := pg_catalog.jsonb_build_object('action', 'idle', 'reason', 'no job is due');
    END IF;
    IF result IS NULL AND public.is_quota_exceeded{{ suffix }}() THEN
        result := pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'quota exhausted');
    END IF;

    IF result IS NULL THEN
        IF probe THEN
            UPDATE public.processor_state{{ suffix }}
            SET breaker_state = 'half_open', probe_started_at = pg_catalog.clock_timestamp();
        END IF;
{%- if settings.scheduler_mode == 'postgres' %}
        -- "All in Postgres": pg_net sends the call after this transaction commits; its answer
        -- reaches the breaker through check_processor_responses{{ suffix }}. The timeout is above the
        -- processor's own time budget (50 s), so that a long run is not counted as a failure.
        SELECT s.decrypted_secret INTO key FROM vault.decrypted_secrets AS s WHERE s.name = cfg.processor_secret_name;
        EXECUTE 'SELECT net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := 70000)'
        INTO request
        USING cfg.processor_url, pg_catalog.jsonb_build_object('trigger', 'invoke_processor_loop'),
              pg_catalog.jsonb_build_object('Content-Type', 'application/json',
                                            'Authorization', 'Bearer ' || COALESCE(key, ''));
        result := pg_catalog.jsonb_build_object('action', 'invoked', 'request_id', request, 'probe', probe);
{%- else %}
        -- External scheduler mode: whoever called this (the external ticker) calls the processor.
        result := pg_catalog.jsonb_build_object('action', 'external', 'probe', probe, 'reason',
            'scheduler_mode external: an external ticker must call the processor at ' || cfg.processor_url);
{%- endif %}
    END IF;

    result := result || pg_catalog.jsonb_build_object('recovered', recovered);
    UPDATE public.processor_state{{ suffix }}
    SET last_invoked_at = pg_catalog.clock_timestamp(), last_result = result, updated_at = pg_catalog.clock_timestamp();
    RETURN result;
END
{% endcall %}

{{ service_role_only(['public.invoke_processor_loop' ~ suffix ~ '()',
                      'public.record_processor_result' ~ suffix ~ '(boolean, text)']) }}
