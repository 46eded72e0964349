SELECT toolkit.check(to_regclass('public.queue_depth{{ suffix }}') IS NOT NULL, 'queue_depth{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.queue_metrics{{ suffix }}') IS NOT NULL, 'queue_metrics{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.api_call_queue{{ suffix }}_pending_created_idx') IS NOT NULL,
                     'the pending partition is indexed by age');
SELECT status, data_type, jobs, due FROM public.queue_depth{{ suffix }} WHERE false;
SELECT pending, processing, jobs_per_minute, failed_last_hour, error_rate, calls_last_hour, bytes_last_day,
       oldest_pending_age, stuck, breaker_state, last_processor_run
FROM public.queue_metrics{{ suffix }};
SELECT toolkit.check(NOT has_table_privilege(r, v, 'SELECT'), r || ' cannot read ' || v)
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.queue_depth{{ suffix }}', 'public.queue_metrics{{ suffix }}']) AS v;
