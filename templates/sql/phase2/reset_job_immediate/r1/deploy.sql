{% from '_macros.sql' import private_definer, service_role_only -%}
-- Back to pending at once, without spending an attempt: for failures that are not the job's
-- fault (a deadlock or serialization failure while upserting its data). The API calls were
-- made and their bytes are counted.
{% call private_definer('public.reset_job_immediate' ~ suffix,
                        'p_job_id bigint, p_reason text, p_bytes bigint', returns='boolean',
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
                attempts = GREATEST(q.attempts - 1, 0), last_error = p_reason, worker_id = NULL, started_at = NULL
            WHERE q.status = 'processing' AND q.id = p_job_id
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
        RETURN false;
    END IF;
    PERFORM public.record_api_usage{{ suffix }}(
        COALESCE((SELECT pg_catalog.cardinality(r.endpoints) FROM public.data_type_registry{{ suffix }} AS r
                  WHERE r.data_type = dtype), 1),
        COALESCE(p_bytes, 0), 0, 0, 0, COALESCE(freed, 0));
    RETURN true;
END
{% endcall %}

{{ service_role_only(['public.reset_job_immediate' ~ suffix ~ '(bigint, text, bigint)']) }}
