SELECT toolkit.check(to_regclass('public.processor_state{{ suffix }}') IS NOT NULL, 'processor_state{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.processor_runs{{ suffix }}') IS NOT NULL, 'processor_runs{{ suffix }} exists');
SELECT toolkit.check(c.relrowsecurity, 'RLS on ' || c.relname)
FROM pg_class AS c WHERE c.oid IN ('public.processor_state{{ suffix }}'::regclass, 'public.processor_runs{{ suffix }}'::regclass);
SELECT toolkit.check_private_function('public.invoke_processor_loop{{ suffix }}()');
SELECT toolkit.check_private_function('public.record_processor_result{{ suffix }}(boolean, text, integer, integer)');
SELECT toolkit.check(NOT has_table_privilege(r, t, 'SELECT'), r || ' cannot read ' || t)
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.processor_state{{ suffix }}', 'public.processor_runs{{ suffix }}']) AS t;
-- The breaker: the threshold of failed runs opens it, a run with some failed calls does not;
-- the probe's success closes it. Each change is logged with its reason.
DO $$
DECLARE
    n integer;
    s text;
BEGIN
    UPDATE public.processor_state{{ suffix }} SET breaker_state = 'closed', consecutive_failures = 0, closed_at = now();
    SELECT breaker_failure_threshold INTO n FROM public.queue_config{{ suffix }};
    FOR i IN 1 .. n + 2 LOOP
        s := public.record_processor_result{{ suffix }}(true, 'HTTP 503', 100, 1);
    END LOOP;
    PERFORM toolkit.check(s = 'closed', 'runs with a few failed calls do not open the breaker');
    FOR i IN 1 .. n LOOP
        s := public.record_processor_result{{ suffix }}(false, 'verify', 0, 0);
    END LOOP;
    PERFORM toolkit.check(s = 'open', 'the breaker opens after the threshold of failed runs');
    PERFORM toolkit.check(public.invoke_processor_loop{{ suffix }}() ->> 'reason' = 'circuit breaker open',
                          'an open breaker skips the processor');
    UPDATE public.processor_state{{ suffix }} SET breaker_state = 'half_open', probe_calls_left = 1;
    PERFORM toolkit.check(public.record_processor_result{{ suffix }}(true, NULL, 1, 0) = 'closed',
                          'a successful probe closes the breaker');
    PERFORM toolkit.check(
        (SELECT count(*) FILTER (WHERE event = 'circuit breaker opened' AND details ? 'reason') >= 1
                AND count(*) FILTER (WHERE event = 'circuit breaker closed' AND details ? 'reason') >= 1
         FROM public.ops_events WHERE at >= now()),
        'opening and closing are logged with their reason');
END
$$;
-- One run at a time: a start that finds a live run, not about to end, does nothing. The run
-- in progress, if any, is left as it was.
DO $$
DECLARE
    saved public.processor_state{{ suffix }};
BEGIN
    SELECT * INTO STRICT saved FROM public.processor_state{{ suffix }} FOR UPDATE;
    UPDATE public.processor_state{{ suffix }}
    SET run_id = 'verify', run_started_at = now(), run_ends_at = clock_timestamp() + interval '1 minute',
        run_lease_until = clock_timestamp() + interval '10 seconds', breaker_state = 'closed', opened_at = NULL;
    PERFORM toolkit.check(public.invoke_processor_loop{{ suffix }}() ->> 'reason' = 'a processor run is in progress',
                          'a start finds the run in progress and does nothing');
    UPDATE public.processor_state{{ suffix }}
    SET run_id = saved.run_id, run_started_at = saved.run_started_at, run_ends_at = saved.run_ends_at,
        run_lease_until = saved.run_lease_until, breaker_state = saved.breaker_state, opened_at = saved.opened_at;
END
$$;
