SELECT toolkit.check_private_function('public.fail_queue_job{{ suffix }}(bigint, text, boolean, bigint)');
DO $$
DECLARE
    job bigint;
    due timestamptz;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority, max_attempts)
    VALUES ('VERIFY', 'quote', 2000000000, 2);
    SELECT b.id INTO job FROM public.get_queue_batch{{ suffix }}('verify', 1) AS b;
    PERFORM toolkit.check(public.fail_queue_job{{ suffix }}(job, 'HTTP 503', true, 0) = 'retrying',
                          'a retryable failure with attempts left is retried');
    SELECT scheduled_for INTO due FROM public.api_call_queue{{ suffix }}_pending WHERE id = job;
    PERFORM toolkit.check(due > now(), 'a retried job waits for its backoff');
    UPDATE public.api_call_queue{{ suffix }} SET scheduled_for = now() WHERE id = job;
    PERFORM 1 FROM public.get_queue_batch{{ suffix }}('verify', 1);
    PERFORM toolkit.check(public.fail_queue_job{{ suffix }}(job, 'HTTP 503', true, 0) = 'failed',
                          'the last attempt fails for good');
    PERFORM toolkit.check((SELECT last_error = 'HTTP 503' FROM public.api_call_queue{{ suffix }}_failed WHERE id = job),
                          'a failed job keeps its error');
END
$$;
