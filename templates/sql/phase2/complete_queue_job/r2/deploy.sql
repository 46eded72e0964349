{% from '_macros.sql' import private_definer, service_role_only -%}
-- Completion: the job moves processing -> completed with the bytes the API really sent, the
-- minute's usage bucket records the bytes (its calls were counted by their permits), and now
-- and then the type's learned size estimate is corrected towards what responses really weigh.
-- Every acknowledgement (completion here, failure, reset) carries the lease of the claim that
-- handed the job out and is accepted only while that claim still holds the job; any other is
-- refused, counted and logged, and changes nothing in the queue.

-- The usage bucket of the current minute (one upsert per completed batch, not per job): calls
-- and bytes spent, and the estimates the finished jobs no longer hold in flight.
--
-- plpgsql, not sql: a SECURITY DEFINER sql function is parsed and planned on every call,
-- while plpgsql keeps the statement's plan for the session.
{% call private_definer('public.record_api_usage' ~ suffix,
                        'p_calls bigint, p_bytes bigint, p_errors bigint, p_completed bigint, p_failed bigint, p_released bigint',
                        returns='void') %}
BEGIN
    INSERT INTO public.api_data_usage{{ suffix }} AS u (bucket, calls, bytes, errors, completed_jobs, failed_jobs, released)
    VALUES (pg_catalog.date_trunc('minute', pg_catalog.clock_timestamp()),
            GREATEST(p_calls, 0), GREATEST(p_bytes, 0), GREATEST(p_errors, 0),
            GREATEST(p_completed, 0), GREATEST(p_failed, 0), GREATEST(p_released, 0))
    ON CONFLICT (bucket) DO UPDATE
    SET calls = u.calls + excluded.calls, bytes = u.bytes + excluded.bytes, errors = u.errors + excluded.errors,
        completed_jobs = u.completed_jobs + excluded.completed_jobs, failed_jobs = u.failed_jobs + excluded.failed_jobs,
        released = u.released + excluded.released;
END
{% endcall %}

-- Acknowledgements that came from a worker that no longer holds the job (its claim timed out
-- and the job was recovered, maybe claimed again; or it was finished already): one warning in
-- ops_events each, naming the job, the lease offered and where the job is now, and a count in
-- the minute's usage bucket, with the bytes those calls cost (the provider sent them, whoever
-- holds the job now). The job itself is left as it is.
{% call private_definer('public.refuse_stale_acks' ~ suffix,
                        'p_action text, p_job_ids bigint[], p_leases bigint[], p_bytes bigint', returns='integer') %}
DECLARE
    n integer;
BEGIN
    WITH refused AS (
        SELECT i.id, i.lease, q.status, q.lease AS holder
        FROM unnest(p_job_ids, p_leases) AS i(id, lease)
        LEFT JOIN LATERAL (
            SELECT x.status, x.lease FROM public.api_call_queue{{ suffix }}_processing AS x WHERE x.id = i.id
            UNION ALL
            SELECT x.status, x.lease FROM public.api_call_queue{{ suffix }}_pending AS x WHERE x.id = i.id
            UNION ALL
            SELECT x.status, x.lease FROM public.api_call_queue{{ suffix }}_failed AS x WHERE x.id = i.id
            LIMIT 1) AS q ON true
    )
    SELECT count(public.log_ops_event('queue', 'warning', 'stale acknowledgement refused',
                                      pg_catalog.jsonb_build_object('action', p_action, 'job_id', r.id,
                                                                    'lease', r.lease, 'job_status', r.status,
                                                                    'held_by_lease', r.holder)))
    INTO n
    FROM refused AS r;
    IF n > 0 THEN
        INSERT INTO public.api_data_usage{{ suffix }} AS u (bucket, refused_acks, bytes)
        VALUES (pg_catalog.date_trunc('minute', pg_catalog.clock_timestamp()), n, GREATEST(COALESCE(p_bytes, 0), 0))
        ON CONFLICT (bucket) DO UPDATE
        SET refused_acks = u.refused_acks + excluded.refused_acks, bytes = u.bytes + excluded.bytes;
    END IF;
    RETURN n;
END
{% endcall %}

-- Completes many jobs in one statement; returns the ids it completed. A job is completed only
-- with the lease it is held under (one no longer in processing, e.g. recovered after a
-- timeout and claimed again, is refused as above, never completed twice). Like the claim, the
-- move is a DELETE from processing and an INSERT into completed; one usage record follows for
-- the whole batch, and now and then a correction of the learned size estimates.
--
-- The processing partition churns faster than its statistics follow: stay on the index,
-- with one generic plan (the statement does not depend on its parameters' values), and
-- join the registry (a dozen rows) by hashing rather than once per job.
{% call private_definer('public.complete_queue_jobs' ~ suffix, 'p_job_ids bigint[], p_leases bigint[], p_actual_bytes bigint[]',
                        returns='SETOF bigint',
                        config=['enable_seqscan = off', 'enable_nestloop = off', 'enable_mergejoin = off',
                                'jit = off', 'plan_cache_mode = force_generic_plan']) %}
DECLARE
    cfg     public.queue_config{{ suffix }};
    ids     bigint[];
    total   bigint;
    freed   bigint;
    n_gone  bigint;
    n_done  bigint;
    s_types text[];
    s_bytes bigint[];
    sampled boolean;
    deduped boolean := false;
    tries   integer := 0;
BEGIN
    IF pg_catalog.cardinality(p_job_ids) IS DISTINCT FROM pg_catalog.cardinality(p_actual_bytes)
       OR pg_catalog.cardinality(p_job_ids) IS DISTINCT FROM pg_catalog.cardinality(p_leases) THEN
        RAISE EXCEPTION 'complete_queue_jobs{{ suffix }}: % job ids, % leases and % byte counts',
            pg_catalog.cardinality(p_job_ids), pg_catalog.cardinality(p_leases), pg_catalog.cardinality(p_actual_bytes)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    -- Size estimates: a type's first sample replaces its zero estimate; otherwise a random
    -- share of completed batches moves each type's learned estimate (at first its configured
    -- one) a fifth of the way towards the average observed size, so one odd response cannot
    -- swing it and hot types do not contend on their registry row. Decided per batch, so most
    -- batches skip this entirely.
    sampled := pg_catalog.random() < cfg.estimate_sample_rate;

    LOOP
        BEGIN
            WITH gone AS (
                -- The index finds the ids; the lease each was given with is then checked per row
                -- (a batch is short, and usually all of one claim).
                DELETE FROM public.api_call_queue{{ suffix }}_processing AS q
                WHERE q.id = ANY (p_job_ids) AND q.lease = p_leases[pg_catalog.array_position(p_job_ids, q.id)]
                -- Only what completed needs: every column carried costs in each step below.
                RETURNING q.id, q.symbol, q.data_type, q.priority, q.attempts, q.max_attempts, q.scheduled_for,
                          q.created_at, q.started_at, q.worker_id, q.estimated_bytes, q.lease
            ), finished AS (
                -- An id given twice meets its job twice here: counted below, and then undone
                -- and done again with each id once (see the handler).
                SELECT g.*, GREATEST(COALESCE(i.bytes, 0), 0) AS done_bytes,
                       COALESCE(r.learned_bytes, r.estimated_bytes) AS type_estimate
                FROM gone AS g
                JOIN unnest(p_job_ids, p_actual_bytes) AS i(id, bytes) ON i.id = g.id
                LEFT JOIN public.data_type_registry{{ suffix }} AS r ON r.data_type = g.data_type
            ), moved AS (
                INSERT INTO public.api_call_queue{{ suffix }}_completed
                    (id, symbol, data_type, priority, status, attempts, max_attempts, scheduled_for, created_at,
                     started_at, finished_at, worker_id, estimated_bytes, actual_bytes, last_error, lease)
                SELECT f.id, f.symbol, f.data_type, f.priority, 'completed', f.attempts, f.max_attempts,
                       f.scheduled_for, f.created_at, f.started_at, pg_catalog.clock_timestamp(), f.worker_id,
                       f.estimated_bytes, f.done_bytes, NULL, f.lease
                FROM finished AS f
            )
            -- What the estimates need (rows of sampled batches and of types still without an
            -- estimate) travels out as two arrays; completed is not read back by id.
            SELECT pg_catalog.array_agg(f.id), sum(f.done_bytes), sum(COALESCE(f.estimated_bytes, 0)),
                   pg_catalog.array_agg(f.data_type) FILTER (WHERE sampled OR f.type_estimate = 0),
                   pg_catalog.array_agg(f.done_bytes) FILTER (WHERE sampled OR f.type_estimate = 0),
                   count(*), (SELECT count(*) FROM gone)
            INTO ids, total, freed, s_types, s_bytes, n_done, n_gone
            FROM finished AS f;
            IF n_done <> n_gone THEN
                RAISE EXCEPTION 'complete_queue_jobs{{ suffix }}: a job id given twice'
                    USING ERRCODE = 'unique_violation';
            END IF;
            EXIT;
        EXCEPTION
            WHEN unique_violation THEN
                -- An id given twice (its job is moved once, but met twice): the block undid the
                -- move; keep each id's first lease and byte count and do it again.
                IF deduped THEN
                    RAISE;
                END IF;
                SELECT pg_catalog.array_agg(d.id ORDER BY d.n), pg_catalog.array_agg(d.lease ORDER BY d.n),
                       pg_catalog.array_agg(d.bytes ORDER BY d.n)
                INTO p_job_ids, p_leases, p_actual_bytes
                FROM (SELECT DISTINCT ON (i.id) i.id, i.lease, i.bytes, i.n
                      FROM unnest(p_job_ids, p_leases, p_actual_bytes) WITH ORDINALITY AS i(id, lease, bytes, n)
                      ORDER BY i.id, i.n) AS d;
                deduped := true;
            WHEN serialization_failure THEN
                -- A job moved by an UPDATE of its status (a recovery's, say) under us: try again
                -- on a fresh snapshot, where it is no longer in processing and is skipped.
                tries := tries + 1;
                IF tries > cfg.claim_retries THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    IF COALESCE(pg_catalog.cardinality(ids), 0) < COALESCE(pg_catalog.cardinality(p_job_ids), 0) THEN
        -- Some were not held under the lease given (rare): refused, counted and logged.
        PERFORM public.refuse_stale_acks{{ suffix }}('complete', pg_catalog.array_agg(i.id), pg_catalog.array_agg(i.lease),
                                                     sum(GREATEST(COALESCE(i.bytes, 0), 0))::bigint)
        FROM unnest(p_job_ids, p_leases, p_actual_bytes) AS i(id, lease, bytes)
        WHERE i.id <> ALL (COALESCE(ids, '{}'))
        HAVING count(*) > 0;
    END IF;
    IF ids IS NULL THEN
        RETURN;
    END IF;
    IF s_types IS NOT NULL THEN
        UPDATE public.data_type_registry{{ suffix }} AS r
        SET learned_bytes = CASE WHEN COALESCE(r.learned_bytes, r.estimated_bytes) = 0 THEN d.observed
                                 ELSE pg_catalog.round(COALESCE(r.learned_bytes, r.estimated_bytes) * 0.8
                                                       + d.observed * 0.2)::bigint END,
            learned_at = pg_catalog.now()
        FROM (SELECT x.data_type, pg_catalog.avg(x.bytes)::bigint AS observed
              FROM unnest(s_types, s_bytes) AS x(data_type, bytes)
              GROUP BY x.data_type) AS d
        WHERE r.data_type = d.data_type AND d.observed > 0
          AND (COALESCE(r.learned_bytes, r.estimated_bytes) = 0 OR sampled);
    END IF;
    PERFORM public.record_api_usage{{ suffix }}(0, total, 0, pg_catalog.cardinality(ids), 0, freed);
    RETURN QUERY SELECT pg_catalog.unnest(ids);
END
{% endcall %}

{% call private_definer('public.complete_queue_job' ~ suffix, 'p_job_id bigint, p_lease bigint, p_actual_bytes bigint',
                        returns='boolean', language='sql') %}
    SELECT EXISTS (SELECT 1 FROM public.complete_queue_jobs{{ suffix }}(ARRAY[p_job_id], ARRAY[p_lease], ARRAY[p_actual_bytes]))
{% endcall %}

{{ service_role_only(['public.record_api_usage' ~ suffix ~ '(bigint, bigint, bigint, bigint, bigint, bigint)',
                      'public.refuse_stale_acks' ~ suffix ~ '(text, bigint[], bigint[], bigint)',
                      'public.complete_queue_jobs' ~ suffix ~ '(bigint[], bigint[], bigint[])',
                      'public.complete_queue_job' ~ suffix ~ '(bigint, bigint, bigint)']) }}
