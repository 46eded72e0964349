SELECT toolkit.check_private_function('public.check_and_queue_stale_data_from_presence{{ suffix }}()');
SELECT toolkit.check_private_function('public.check_processor_responses{{ suffix }}()');
SELECT toolkit.check(public.check_and_queue_stale_data_from_presence{{ suffix }}() ? 'action',
                     'check_and_queue_stale_data_from_presence{{ suffix }} runs and reports');
