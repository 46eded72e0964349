{% from '_macros.sql' import private_definer, service_role_only -%}
-- The breaker's and the loop's functions (deploy.sql and its upgrades include this file).

-- What a processor run reports when it ends (p_ok, with the provider calls it made and how
-- many of them failed), or what the ticker / the pg_net response check report when the
-- processor could not be run at all (p_ok false). Returns the breaker's state after it.
{% call private_definer('public.record_processor_result' ~ suffix,
                        'p_ok boolean, p_error text, p_calls integer, p_failures integer', returns='text') %}
DECLARE
    cfg       public.queue_config{{ suffix }};
    st        public.processor_state{{ suffix }};
    calls     integer := GREATEST(COALESCE(p_calls, 0), 0);
    failures  integer := LEAST(GREATEST(COALESCE(p_failures, 0), 0), GREATEST(COALESCE(p_calls, 0), 0));
    failed    boolean;
    answered  boolean;
    nxt       text;
    streak    integer;
    w_calls   bigint;
    w_fails   bigint;
    reason    text;
    now_ts    timestamptz := pg_catalog.clock_timestamp();
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT st FROM public.processor_state{{ suffix }} FOR UPDATE;
    -- A failed run: the processor could not run, or every call it made failed. A run that
    -- made no call says nothing about the provider either way.
    failed := NOT COALESCE(p_ok, false) OR (calls > 0 AND failures >= calls);
    answered := COALESCE(p_ok, false) AND calls > failures;
    INSERT INTO public.processor_runs{{ suffix }} (at, ok, calls, failures, error)
    VALUES (now_ts, NOT failed, calls, CASE WHEN COALESCE(p_ok, false) THEN failures ELSE 0 END, p_error);
    DELETE FROM public.processor_runs{{ suffix }} AS r
    WHERE r.at < now_ts - pg_catalog.make_interval(secs => cfg.breaker_window_seconds + 86400);

    streak := CASE WHEN failed THEN st.consecutive_failures + 1 WHEN answered THEN 0 ELSE st.consecutive_failures END;
    nxt := st.breaker_state;
    IF st.breaker_state = 'half_open' THEN
        IF failed THEN
            nxt := 'open';
            reason := pg_catalog.format('the half-open probe failed: %s', COALESCE(p_error, 'no call answered'));
        ELSIF answered THEN
            nxt := 'closed';
            reason := pg_catalog.format('the half-open probe succeeded: %s of %s call(s) answered', calls - failures, calls);
        END IF;
    ELSIF st.breaker_state = 'closed' THEN
        IF streak >= cfg.breaker_failure_threshold THEN
            nxt := 'open';
            reason := pg_catalog.format('%s failed runs in a row (threshold %s); last error: %s',
                                        streak, cfg.breaker_failure_threshold, COALESCE(p_error, '-'));
        ELSIF calls > 0 THEN
            SELECT COALESCE(sum(r.calls), 0), COALESCE(sum(r.failures), 0) INTO w_calls, w_fails
            FROM public.processor_runs{{ suffix }} AS r
            WHERE r.at > GREATEST(now_ts - pg_catalog.make_interval(secs => cfg.breaker_window_seconds),
                                  COALESCE(st.closed_at, '-infinity'::timestamptz));
            IF w_calls >= cfg.breaker_min_calls AND w_fails >= cfg.breaker_error_rate * w_calls THEN
                nxt := 'open';
                reason := pg_catalog.format('error rate %s%% over the last %s s (%s of %s calls failed; threshold %s%%)',
                                            pg_catalog.round(100.0 * w_fails / w_calls, 1), cfg.breaker_window_seconds,
                                            w_fails, w_calls, pg_catalog.round((100 * cfg.breaker_error_rate)::numeric, 1));
            END IF;
        END IF;
    END IF;

    UPDATE public.processor_state{{ suffix }}
    SET breaker_state = nxt,
        consecutive_failures = CASE WHEN nxt = 'closed' AND st.breaker_state <> 'closed' THEN 0 ELSE streak END,
        opened_at = CASE WHEN nxt = 'open' AND st.breaker_state <> 'open' THEN now_ts
                         WHEN nxt = 'closed' THEN NULL ELSE st.opened_at END,
        opened_reason = CASE WHEN nxt = 'open' AND st.breaker_state <> 'open' THEN reason
                             WHEN nxt = 'closed' THEN NULL ELSE st.opened_reason END,
        closed_at = CASE WHEN nxt = 'closed' AND st.breaker_state <> 'closed' THEN now_ts ELSE st.closed_at END,
        -- A probe that made no call leaves the circuit half-open, and the next loop probes again.
        probe_started_at = NULL,
        probe_calls_left = CASE WHEN nxt = 'half_open' THEN st.probe_calls_left ELSE 0 END,
        last_error = CASE WHEN failed OR failures > 0 THEN p_error ELSE st.last_error END,
        last_success_at = CASE WHEN answered THEN now_ts ELSE st.last_success_at END,
        updated_at = now_ts;
    IF nxt = 'open' AND st.breaker_state <> 'open' THEN
        PERFORM public.log_ops_event('queue-processor', 'warning', 'circuit breaker opened',
            pg_catalog.jsonb_build_object('reason', reason, 'from', st.breaker_state, 'failed_runs_in_a_row', streak,
                                          'window_calls', w_calls, 'window_failures', w_fails, 'error', p_error));
    ELSIF nxt = 'closed' AND st.breaker_state <> 'closed' THEN
        PERFORM public.log_ops_event('queue-processor', 'info', 'circuit breaker closed',
            pg_catalog.jsonb_build_object('reason', reason, 'opened_reason', st.opened_reason,
                                          'open_for_seconds', EXTRACT(epoch FROM now_ts - st.opened_at)));
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
    drain     text := 'continuous';
    -- How long before its end a run in progress is succeeded by a new start: the new run waits
    -- for it at most this long (and the platform's wall clock allows it: settings.processor).
    handover_s constant integer := 15;
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
                                                    'retry_at', st.opened_at + pg_catalog.make_interval(secs => cfg.breaker_open_seconds),
                                                    'opened_reason', st.opened_reason);
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

    -- A run in progress: nothing to do, unless it ends before the next start can be counted on
    -- (within the handover time); then the run started now waits for it and takes over.
    IF result IS NULL AND st.run_id IS NOT NULL AND st.run_lease_until > pg_catalog.clock_timestamp()
       AND st.run_ends_at > pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => handover_s) THEN
        result := pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'a processor run is in progress',
                                                'run_id', st.run_id, 'run_ends_at', st.run_ends_at);
    END IF;
    -- A continuous run is started whether or not a job is due: it waits for the next one.
    IF probe OR cfg.processor_drain = 'once' THEN
        drain := 'once';
    END IF;
    IF result IS NULL AND drain = 'once'
       AND NOT EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_pending AS q
                       WHERE q.scheduled_for <= pg_catalog.clock_timestamp()) THEN
        result := pg_catalog.jsonb_build_object('action', 'idle', 'reason', 'no job is due');
    END IF;
    IF result IS NULL AND public.is_quota_exceeded{{ suffix }}() THEN
        result := pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'quota exhausted');
    END IF;

    IF result IS NULL THEN
        IF probe THEN
            -- The probe: the call permits let breaker_probe_calls calls through, then none.
            UPDATE public.processor_state{{ suffix }}
            SET breaker_state = 'half_open', probe_started_at = pg_catalog.clock_timestamp(),
                probe_calls_left = cfg.breaker_probe_calls;
            IF st.breaker_state = 'open' THEN
                PERFORM public.log_ops_event('queue-processor', 'info', 'circuit breaker half-open',
                    pg_catalog.jsonb_build_object('probe_calls', cfg.breaker_probe_calls, 'opened_reason', st.opened_reason));
            END IF;
        END IF;
{%- if settings.scheduler_mode == 'postgres' %}
        -- "All in Postgres": pg_net sends the call after this transaction commits; its answer
        -- reaches the breaker through check_processor_responses{{ suffix }}. The timeout is above the
        -- processor's own time (a run "once": 50 s; a continuous run: the handover, its run
        -- time and its last calls), so that a long run is not counted as a failure.
        SELECT s.decrypted_secret INTO key FROM vault.decrypted_secrets AS s WHERE s.name = cfg.processor_secret_name;
        EXECUTE 'SELECT net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
        INTO request
        USING cfg.processor_url,
              pg_catalog.jsonb_build_object('trigger', 'invoke_processor_loop', 'drain', drain,
                                            'runSeconds', cfg.processor_run_seconds),
              pg_catalog.jsonb_build_object('Content-Type', 'application/json',
                                            'Authorization', 'Bearer ' || COALESCE(key, '')),
              CASE WHEN drain = 'once' THEN 70000 ELSE (cfg.processor_run_seconds + handover_s + 45) * 1000 END;
        result := pg_catalog.jsonb_build_object('action', 'invoked', 'request_id', request, 'probe', probe,
                                                'drain', drain);
{%- else %}
        -- External scheduler mode: whoever called this (the external ticker) calls the processor,
        -- with the drain and run time given here.
        result := pg_catalog.jsonb_build_object('action', 'external', 'probe', probe, 'drain', drain,
            'run_seconds', cfg.processor_run_seconds, 'reason',
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
                      'public.record_processor_result' ~ suffix ~ '(boolean, text, integer, integer)']) }}
