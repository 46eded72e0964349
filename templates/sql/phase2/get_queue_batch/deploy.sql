-- The claim: one call hands a worker up to p_batch_size due jobs, highest priority first,
-- then oldest, moving them pending -> processing, and never more than the API's budgets have
-- left. Every claimer takes the quota state row's lock first, so the budget arithmetic is
-- serialized; it is held only for this one statement's transaction.
CREATE OR REPLACE FUNCTION public.get_queue_batch{{ suffix }}(p_worker_id text, p_batch_size integer)
RETURNS TABLE (
    id              bigint,
    symbol          text,
    data_type       text,
    priority        integer,
    attempts        integer,
    max_attempts    integer,
    estimated_bytes bigint,
    endpoints       text[],
    created_at      timestamptz
)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    cfg        public.queue_config{{ suffix }};
    st         public.api_quota_state{{ suffix }};
    v_now      timestamptz;
    v_now_s    bigint;
    v_ring     integer[];
    v_calls    bigint;
    v_wb       record;
    calls_left bigint;
    bytes_left bigint;
    claimed    bigint[];
    c_calls    bigint := 0;
    c_bytes    bigint := 0;
    tries      integer := 0;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'get_queue_batch{{ suffix }}: p_batch_size must be at least 1, got %', p_batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    BEGIN
        SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }} FOR UPDATE;
    EXCEPTION WHEN serialization_failure THEN
        -- Only under REPEATABLE READ or SERIALIZABLE: another claim changed the budget after
        -- this transaction's snapshot. Nothing was claimed; the caller simply asks again.
        RETURN;
    END;

    v_now := pg_catalog.clock_timestamp();
    v_now_s := pg_catalog.floor(EXTRACT(epoch FROM v_now))::bigint;
    v_ring := public.quota_ring_advance{{ suffix }}(st.call_ring, st.ring_epoch, v_now_s);
    SELECT COALESCE(sum(x), 0) INTO v_calls FROM pg_catalog.unnest(v_ring) AS x;
    SELECT * INTO v_wb FROM public.quota_window_bytes{{ suffix }}(v_now);
    calls_left := cfg.calls_per_window - v_calls;
    bytes_left := cfg.bytes_per_window - v_wb.bytes_used;

    IF calls_left > 0 AND bytes_left > 0 THEN
        LOOP
            BEGIN
                -- Lock candidates in claim order, then keep the longest prefix whose calls and
                -- estimated bytes fit what is left (a job costs one call per endpoint).
                WITH candidates AS MATERIALIZED (
                    SELECT q.id, q.priority, q.scheduled_for, q.data_type, q.estimated_bytes
                    FROM public.api_call_queue{{ suffix }}_pending AS q
                    WHERE q.scheduled_for <= v_now
                    ORDER BY q.priority DESC, q.scheduled_for, q.id
                    LIMIT LEAST(p_batch_size, calls_left)
                    FOR UPDATE OF q SKIP LOCKED
                ), costed AS (
                    SELECT c.id,
                           sum(COALESCE(pg_catalog.cardinality(r.endpoints), 1))
                               OVER (ORDER BY c.priority DESC, c.scheduled_for, c.id) AS run_calls,
                           sum(COALESCE(c.estimated_bytes, r.estimated_bytes, 0))
                               OVER (ORDER BY c.priority DESC, c.scheduled_for, c.id) AS run_bytes
                    FROM candidates AS c
                    LEFT JOIN public.data_type_registry{{ suffix }} AS r ON r.data_type = c.data_type
                )
                SELECT pg_catalog.array_agg(k.id), COALESCE(max(k.run_calls), 0), COALESCE(max(k.run_bytes), 0)
                INTO claimed, c_calls, c_bytes
                FROM costed AS k
                WHERE k.run_calls <= calls_left AND k.run_bytes <= bytes_left;

                IF claimed IS NOT NULL THEN
                    RETURN QUERY
                    WITH moved AS (
                        UPDATE public.api_call_queue{{ suffix }} AS q
                        SET status = 'processing',
                            started_at = v_now,
                            worker_id = p_worker_id,
                            attempts = q.attempts + 1,
                            estimated_bytes = COALESCE(q.estimated_bytes, r.estimated_bytes, 0)
                        FROM public.data_type_registry{{ suffix }} AS r
                        WHERE q.status = 'pending' AND q.id = ANY (claimed) AND r.data_type = q.data_type
                        RETURNING q.id, q.symbol, q.data_type, q.priority, q.attempts, q.max_attempts,
                                  q.estimated_bytes, r.endpoints, q.created_at, q.scheduled_for
                    ), orphans AS (
                        -- A type missing from the registry still moves (its processor fails it
                        -- with the reason) rather than blocking the head of the queue.
                        UPDATE public.api_call_queue{{ suffix }} AS q
                        SET status = 'processing', started_at = v_now, worker_id = p_worker_id,
                            attempts = q.attempts + 1, estimated_bytes = COALESCE(q.estimated_bytes, 0)
                        WHERE q.status = 'pending' AND q.id = ANY (claimed)
                          AND NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r
                                          WHERE r.data_type = q.data_type)
                        RETURNING q.id, q.symbol, q.data_type, q.priority, q.attempts, q.max_attempts,
                                  q.estimated_bytes, NULL::text[] AS endpoints, q.created_at, q.scheduled_for
                    )
                    SELECT m.id, m.symbol, m.data_type, m.priority, m.attempts, m.max_attempts,
                           m.estimated_bytes, m.endpoints, m.created_at
                    FROM (SELECT * FROM moved UNION ALL SELECT * FROM orphans) AS m
                    ORDER BY m.priority DESC, m.scheduled_for, m.id;
                END IF;
                EXIT;
            EXCEPTION WHEN serialization_failure THEN
                -- A candidate moved to another partition under a concurrent transaction
                -- between our snapshot and our lock. The subtransaction undid our part; try
                -- again with a fresh snapshot, or give up empty-handed (never with an error).
                tries := tries + 1;
                claimed := NULL; c_calls := 0; c_bytes := 0;
                IF tries > cfg.claim_retries THEN
                    EXIT;
                END IF;
            END;
        END LOOP;
    END IF;

    IF c_calls > 0 THEN
        v_ring[(v_now_s % pg_catalog.cardinality(v_ring)) + 1] := v_ring[(v_now_s % pg_catalog.cardinality(v_ring)) + 1] + c_calls;
    END IF;
    UPDATE public.api_quota_state{{ suffix }}
    SET call_ring = v_ring, ring_epoch = GREATEST(st.ring_epoch, v_now_s),
        window_from = v_wb.window_from, cached_until = v_wb.cached_until, cached_bytes = v_wb.cached_bytes;
END
$$;

REVOKE EXECUTE ON FUNCTION public.get_queue_batch{{ suffix }}(text, integer) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.get_queue_batch{{ suffix }}(text, integer) TO service_role;
