SELECT toolkit.check_private_function('public.queue_scheduled_refreshes{{ suffix }}()');
SELECT toolkit.check(public.queue_scheduled_refreshes{{ suffix }}() ? 'action', 'queue_scheduled_refreshes{{ suffix }} runs and reports');
