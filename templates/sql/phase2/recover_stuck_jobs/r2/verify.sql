SELECT toolkit.check_private_function('public.recover_stuck_jobs{{ suffix }}()');
DO $$
DECLARE
    job bigint;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority) VALUES ('VERIFY', 'quote', 2000000000);
    SELECT b.id INTO job FROM public.get_queue_batch{{ suffix }}('verify', 1) AS b;
    UPDATE public.api_call_queue{{ suffix }} SET started_at = now() - interval '1 day' WHERE id = job;
    PERFORM toolkit.check(public.recover_stuck_jobs{{ suffix }}() >= 1, 'recover_stuck_jobs{{ suffix }} recovers a stuck job');
    PERFORM toolkit.check(EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_pending WHERE id = job AND lease IS NULL),
                          'a recovered job is pending again, its lease ended');
END
$$;
