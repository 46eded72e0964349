SELECT toolkit.check_private_function('public.complete_queue_job{{ suffix }}(bigint, bigint, bigint)');
SELECT toolkit.check_private_function('public.complete_queue_jobs{{ suffix }}(bigint[], bigint[], bigint[])');
SELECT toolkit.check_private_function('public.record_api_usage{{ suffix }}(bigint, bigint, bigint, bigint, bigint, bigint)');
SELECT toolkit.check_private_function('public.refuse_stale_acks{{ suffix }}(text, bigint[], bigint[], bigint)');
DO $$
DECLARE
    job   bigint;
    v_lease bigint;
    est   bigint;
    sent  bigint;
BEGIN
    UPDATE public.api_quota_state{{ suffix }} SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)]);
    -- The first sample of a type with no estimate yet becomes its learned estimate.
    UPDATE public.data_type_registry{{ suffix }} SET estimated_bytes = 0, learned_bytes = NULL WHERE data_type = 'profile';
    INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority) VALUES ('VERIFY', 'profile', 2000000000);
    SELECT b.id, b.lease INTO job, v_lease FROM public.get_queue_batch{{ suffix }}('verify', 1) AS b;
    SELECT COALESCE(sum(u.completed_jobs), 0) INTO sent FROM public.api_data_usage{{ suffix }} AS u;
    PERFORM toolkit.check(NOT public.complete_queue_job{{ suffix }}(job, v_lease + 1, 4321),
                          'complete_queue_job{{ suffix }} refuses a lease that does not hold the job');
    PERFORM toolkit.check(public.complete_queue_job{{ suffix }}(job, v_lease, 4321),
                          'complete_queue_job{{ suffix }} completes a job under the lease it is held with');
    PERFORM toolkit.check(NOT public.complete_queue_job{{ suffix }}(job, v_lease, 4321), 'a job is completed only once');
    -- At least: live completions may count theirs meanwhile.
    PERFORM toolkit.check((SELECT sum(u.completed_jobs) FROM public.api_data_usage{{ suffix }} AS u) >= sent + 1,
                          'a completion is counted in the minute''s usage bucket');
    PERFORM toolkit.check((SELECT actual_bytes = 4321 FROM public.api_call_queue{{ suffix }}_completed WHERE id = job),
                          'completion keeps the actual bytes');
    SELECT r.learned_bytes INTO est FROM public.data_type_registry{{ suffix }} AS r WHERE r.data_type = 'profile';
    PERFORM toolkit.check(est = 4321, 'the first sample replaces a zero estimate (as the learned estimate)');
    PERFORM toolkit.check((SELECT count(*) = 2 FROM public.ops_events
                           WHERE event = 'stale acknowledgement refused' AND (details ->> 'job_id')::bigint = job),
                          'refused acknowledgements are logged in ops_events');
END
$$;
