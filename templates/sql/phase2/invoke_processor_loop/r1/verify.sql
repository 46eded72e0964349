SELECT toolkit.check(to_regclass('public.processor_state{{ suffix }}') IS NOT NULL, 'processor_state{{ suffix }} exists');
SELECT toolkit.check((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.processor_state{{ suffix }}'::regclass),
                     'RLS on processor_state{{ suffix }}');
SELECT toolkit.check_private_function('public.invoke_processor_loop{{ suffix }}()');
SELECT toolkit.check_private_function('public.record_processor_result{{ suffix }}(boolean, text)');
SELECT toolkit.check(NOT has_table_privilege(r, 'public.processor_state{{ suffix }}', 'SELECT'),
                     r || ' cannot read processor_state{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r;
-- The breaker: the threshold of failures opens it; a success closes it.
DO $$
DECLARE
    n integer;
    s text;
BEGIN
    UPDATE public.processor_state{{ suffix }} SET breaker_state = 'closed', consecutive_failures = 0;
    SELECT breaker_failure_threshold INTO n FROM public.queue_config{{ suffix }};
    FOR i IN 1 .. n LOOP
        s := public.record_processor_result{{ suffix }}(false, 'verify');
    END LOOP;
    PERFORM toolkit.check(s = 'open', 'the breaker opens after the failure threshold');
    PERFORM toolkit.check(public.invoke_processor_loop{{ suffix }}() ->> 'reason' = 'circuit breaker open',
                          'an open breaker skips the processor');
    PERFORM toolkit.check(public.record_processor_result{{ suffix }}(true, NULL) = 'closed', 'a success closes the breaker');
END
$$;
