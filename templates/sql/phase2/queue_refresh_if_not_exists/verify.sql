SELECT toolkit.check_private_function('public.queue_refresh_if_not_exists{{ suffix }}(text, text, integer)');
SELECT toolkit.check_private_function('public.queue_refreshes{{ suffix }}(text[], text[], integer[])');
DO $$
DECLARE
    a record;
    b record;
    c record;
BEGIN
    SELECT * INTO a FROM public.queue_refresh_if_not_exists{{ suffix }}('VERIFY', 'quote', 1);
    SELECT * INTO b FROM public.queue_refresh_if_not_exists{{ suffix }}('VERIFY', 'quote', 5);
    SELECT * INTO c FROM public.queue_refresh_if_not_exists{{ suffix }}('VERIFY', 'quote', 3);
    PERFORM toolkit.check(a.outcome = 'queued' AND b.outcome = 'raised' AND c.outcome = 'exists'
                          AND a.job_id = b.job_id AND b.job_id = c.job_id,
                          'queue_refresh_if_not_exists{{ suffix }} queues once and keeps the higher priority');
    PERFORM toolkit.check((SELECT priority = 5 FROM public.api_call_queue{{ suffix }}_pending WHERE id = a.job_id),
                          'the live job has the highest priority asked for');
    PERFORM toolkit.check(
        (SELECT array_agg(outcome ORDER BY symbol) = ARRAY['exists', 'queued']
         FROM public.queue_refreshes{{ suffix }}(ARRAY['VERIFYB', 'VERIFY', 'VERIFYB'], ARRAY['quote', 'quote', 'quote'],
                                                 ARRAY[1, 1, 2])),
        'queue_refreshes{{ suffix }} queues each pair once and reports the live ones');
END
$$;
