SELECT toolkit.check(to_regprocedure('public.queue_scheduled_refreshes{{ suffix }}()') IS NOT NULL,
                     'queue_scheduled_refreshes{{ suffix }} exists');
SELECT toolkit.check(NOT has_function_privilege(r, 'public.queue_scheduled_refreshes{{ suffix }}()', 'EXECUTE'),
                     r || ' cannot execute queue_scheduled_refreshes{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r;
SELECT toolkit.check(public.queue_scheduled_refreshes{{ suffix }}() ? 'action', 'queue_scheduled_refreshes{{ suffix }} runs and reports');
