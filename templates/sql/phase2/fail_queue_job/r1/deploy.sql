{% from '_macros.sql' import private_definer, service_role_only -%}
-- A failed attempt: retried later with exponential backoff and jitter while attempts remain
-- and the error is worth retrying (429, 5xx, timeouts); otherwise the job moves to the failed
-- partition with its error kept. The calls were made either way, so usage counts them.
{% call private_definer('public.fail_queue_job' ~ suffix,
                        'p_job_id bigint, p_error text, p_retryable boolean, p_bytes bigint', returns='text',
                        config=['enable_seqscan = off', 'jit = off']) %}
DECLARE
    cfg     public.queue_config{{ suffix }};
    job     public.api_call_queue{{ suffix }};
    outcome text;
    delay   double precision;
    tries   integer := 0;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    LOOP
        BEGIN
            SELECT * INTO job FROM public.api_call_queue{{ suffix }}_processing AS q WHERE q.id = p_job_id FOR UPDATE;
            IF NOT FOUND THEN
                RETURN 'not processing';
            END IF;
            IF COALESCE(p_retryable, false) AND job.attempts < job.max_attempts THEN
                -- Equal jitter: half the exponential delay, plus up to as much again at random,
                -- so workers that failed together do not retry together.
                delay := LEAST(cfg.backoff_max_seconds, cfg.backoff_base_seconds * pg_catalog.power(2, GREATEST(job.attempts - 1, 0)));
                delay := delay / 2 + pg_catalog.random() * delay / 2;
                UPDATE public.api_call_queue{{ suffix }} AS q
                SET status = 'pending', scheduled_for = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => delay),
                    last_error = p_error, worker_id = NULL, started_at = NULL
                WHERE q.status = 'processing' AND q.id = p_job_id;
                outcome := 'retrying';
            ELSE
                UPDATE public.api_call_queue{{ suffix }} AS q
                SET status = 'failed', finished_at = pg_catalog.clock_timestamp(), last_error = p_error,
                    actual_bytes = p_bytes
                WHERE q.status = 'processing' AND q.id = p_job_id;
                outcome := 'failed';
            END IF;
            EXIT;
        EXCEPTION WHEN serialization_failure THEN
            tries := tries + 1;
            IF tries > cfg.claim_retries THEN
                RETURN 'not processing';
            END IF;
        END;
    END LOOP;
    PERFORM public.record_api_usage{{ suffix }}(
        COALESCE((SELECT pg_catalog.cardinality(r.endpoints) FROM public.data_type_registry{{ suffix }} AS r
                  WHERE r.data_type = job.data_type), 1),
        COALESCE(p_bytes, 0), 1, 0, CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END, COALESCE(job.estimated_bytes, 0));
    RETURN outcome;
END
{% endcall %}

{{ service_role_only(['public.fail_queue_job' ~ suffix ~ '(bigint, text, boolean, bigint)']) }}
