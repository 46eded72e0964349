SELECT toolkit.check_private_function('public.reset_job_immediate{{ suffix }}(bigint, bigint, text, bigint)');
DO $$
DECLARE
    job   bigint;
    v_lease bigint;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority) VALUES ('VERIFY', 'quote', 2000000000);
    SELECT b.id, b.lease INTO job, v_lease FROM public.get_queue_batch{{ suffix }}('verify', 1) AS b;
    PERFORM toolkit.check(NOT public.reset_job_immediate{{ suffix }}(job, v_lease + 1, 'deadlock detected', 0),
                          'reset_job_immediate{{ suffix }} refuses a lease that does not hold the job');
    PERFORM toolkit.check(public.reset_job_immediate{{ suffix }}(job, v_lease, 'deadlock detected', 100),
                          'reset_job_immediate{{ suffix }} resets');
    PERFORM toolkit.check((SELECT attempts = 0 AND scheduled_for <= clock_timestamp() AND q.lease IS NULL
                           FROM public.api_call_queue{{ suffix }}_pending AS q WHERE q.id = job),
                          'a reset job is due at once and keeps its attempts');
END
$$;
