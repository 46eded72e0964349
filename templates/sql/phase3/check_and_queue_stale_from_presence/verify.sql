SELECT toolkit.check(to_regprocedure(f) IS NOT NULL, f || ' exists')
FROM unnest(ARRAY['public.check_and_queue_stale_data_from_presence{{ suffix }}()',
                  'public.check_processor_responses{{ suffix }}()']) AS f;
SELECT toolkit.check(NOT has_function_privilege(r, f, 'EXECUTE'), r || ' cannot execute ' || f)
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.check_and_queue_stale_data_from_presence{{ suffix }}()',
                  'public.check_processor_responses{{ suffix }}()']) AS f;
SELECT toolkit.check(public.check_and_queue_stale_data_from_presence{{ suffix }}() ? 'action',
                     'check_and_queue_stale_data_from_presence{{ suffix }} runs and reports');
