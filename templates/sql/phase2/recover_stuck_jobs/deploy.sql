{% from '_macros.sql' import private_definer, service_role_only -%}
-- Jobs whose worker vanished (crashed, timed out, redeployed) sit in processing forever;
-- past the timeout they go back to pending, or to failed once out of attempts, and their
-- lease ends. SKIP LOCKED: a job a live worker is completing (or writing the data of) right
-- now is left to it.
{% call private_definer('public.recover_stuck_jobs' ~ suffix, returns='integer') %}
DECLARE
    cfg   public.queue_config{{ suffix }};
    moved integer := 0;
    freed bigint;
    tries integer := 0;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    LOOP
        BEGIN
            WITH stuck AS (
                SELECT q.id
                FROM public.api_call_queue{{ suffix }}_processing AS q
                WHERE q.started_at < pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => cfg.stuck_timeout_seconds)
                ORDER BY q.started_at
                LIMIT cfg.maintenance_batch_size
                FOR UPDATE SKIP LOCKED
            ), back AS (
                UPDATE public.api_call_queue{{ suffix }} AS q
                SET status = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'pending' END,
                    scheduled_for = pg_catalog.clock_timestamp(),
                    finished_at = CASE WHEN q.attempts >= q.max_attempts THEN pg_catalog.clock_timestamp() END,
                    last_error = pg_catalog.format('stuck in processing for more than %s s (worker %s)',
                                                   cfg.stuck_timeout_seconds, q.worker_id),
                    worker_id = NULL,
                    -- The claim loses the job: its worker can no longer acknowledge it.
                    lease = CASE WHEN q.attempts >= q.max_attempts THEN q.lease END
                FROM stuck
                WHERE q.status = 'processing' AND q.id = stuck.id
                RETURNING q.estimated_bytes
            )
            SELECT count(*), COALESCE(sum(back.estimated_bytes), 0)::bigint INTO moved, freed FROM back;
            IF moved > 0 THEN
                -- Whether their calls happened is unknown; their reservations end here.
                PERFORM public.record_api_usage{{ suffix }}(0, 0, 0, 0, 0, freed);
            END IF;
            EXIT;
        EXCEPTION WHEN serialization_failure THEN
            moved := 0;
            tries := tries + 1;
            EXIT WHEN tries > cfg.claim_retries;
        END;
    END LOOP;
    RETURN moved;
END
{% endcall %}

{{ service_role_only(['public.recover_stuck_jobs' ~ suffix ~ '()']) }}
