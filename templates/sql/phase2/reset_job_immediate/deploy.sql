{% from '_macros.sql' import private_definer, service_role_only -%}
-- Back to pending at once, without spending an attempt: for failures that are not the job's
-- fault (a deadlock or serialization failure while upserting its data, the run's own time
-- running out, no call permit left in the budget). Accepted only under the lease the job is
-- held with (false otherwise, counted and logged, the job untouched). The calls that were made
-- were counted by their permits; the bytes they cost are accounted here.
{% call private_definer('public.reset_job_immediate' ~ suffix,
                        'p_job_id bigint, p_lease bigint, p_reason text, p_bytes bigint', returns='boolean',
                        config=['enable_seqscan = off', 'jit = off']) %}
DECLARE
    cfg   public.queue_config{{ suffix }};
    dtype text;
    freed bigint;
    tries integer := 0;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    LOOP
        BEGIN
            UPDATE public.api_call_queue{{ suffix }} AS q
            SET status = 'pending', scheduled_for = pg_catalog.clock_timestamp(),
                attempts = GREATEST(q.attempts - 1, 0), last_error = p_reason, worker_id = NULL, started_at = NULL,
                lease = NULL
            WHERE q.status = 'processing' AND q.id = p_job_id AND q.lease = p_lease
            RETURNING q.data_type, q.estimated_bytes INTO dtype, freed;
            EXIT;
        EXCEPTION WHEN serialization_failure THEN
            tries := tries + 1;
            IF tries > cfg.claim_retries THEN
                RETURN false;
            END IF;
        END;
    END LOOP;
    IF dtype IS NULL THEN
        PERFORM public.refuse_stale_acks{{ suffix }}('reset', ARRAY[p_job_id], ARRAY[p_lease], p_bytes);
        RETURN false;
    END IF;
    PERFORM public.record_api_usage{{ suffix }}(0, COALESCE(p_bytes, 0), 0, 0, 0, COALESCE(freed, 0));
    RETURN true;
END
{% endcall %}

{{ service_role_only(['public.reset_job_immediate' ~ suffix ~ '(bigint, bigint, text, bigint)']) }}
