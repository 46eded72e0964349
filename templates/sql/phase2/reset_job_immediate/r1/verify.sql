SELECT toolkit.check_private_function('public.reset_job_immediate{{ suffix }}(bigint, text, bigint)');
DO $$
DECLARE
    job bigint;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority) VALUES ('VERIFY', 'quote', 2000000000);
    SELECT b.id INTO job FROM public.get_queue_batch{{ suffix }}('verify', 1) AS b;
    PERFORM toolkit.check(public.reset_job_immediate{{ suffix }}(job, 'deadlock detected', 100), 'reset_job_immediate{{ suffix }} resets');
    PERFORM toolkit.check((SELECT attempts = 0 AND scheduled_for <= clock_timestamp()
                           FROM public.api_call_queue{{ suffix }}_pending WHERE id = job),
                          'a reset job is due at once and keeps its attempts');
END
$$;
