{% from '_macros.sql' import private_definer, service_role_only -%}
-- The claim: one call hands a worker up to p_batch_size due jobs, the highest-priority first,
-- then the oldest, moving them pending -> processing, and never more than the API's budgets
-- have left, across any number of concurrent claimers.
--
-- Only the budget's write is serialized. Candidates are locked (SKIP LOCKED) and moved
-- first, sized by a lock-free look at the budget; then the budgets are recomputed exactly
-- from the quota row, the longest prefix that fits is kept, and the row is written back on
-- condition that no other claim wrote it meanwhile (otherwise: read and cut again). Any
-- excess (another claimer spent the budget meanwhile: rare, only at the edge of the budget)
-- is moved straight back. The row lock is held from that write to commit.
--
-- The move is a DELETE from the pending partition and an INSERT into processing in one
-- statement, not an UPDATE of the partition key: it costs less (no tuple routing, the locked
-- rows are found again by their ctid), and a concurrent transaction that meets a moved row
-- under READ COMMITTED sees it deleted and passes over it instead of failing with 40001.

-- One claimed job, as the claim returns it (the rows travel from the move to the caller in
-- an array of these, so they are not read back after the budget check). A batch's rows come
-- in no particular order: the batch as a whole is the highest-priority, oldest due jobs.
CREATE TYPE public.queue_claim{{ suffix }} AS (
    id              bigint,
    symbol          text,
    data_type       text,
    priority        integer,
    attempts        integer,
    max_attempts    integer,
    estimated_bytes bigint,
    endpoints       text[],
    created_at      timestamptz,
    scheduled_for   timestamptz
);

-- The hot partitions churn faster than autovacuum visits them, so statistics lag behind
-- their size; keep this function's lookups on the indexes regardless (and without JIT, which
-- the resulting cost estimates would otherwise trigger on every call). Every statement here
-- is written to plan well without knowing its parameters: one generic plan, no planning
-- per call. The registry (a dozen rows) is joined by hashing, not looked up once per job.
{% call private_definer('public.get_queue_batch' ~ suffix, 'p_worker_id text, p_batch_size integer',
                        returns='SETOF public.queue_claim' ~ suffix,
                        config=['enable_seqscan = off', 'enable_nestloop = off', 'enable_mergejoin = off',
                                'jit = off', 'plan_cache_mode = force_generic_plan']) %}
DECLARE
    cfg      public.queue_config{{ suffix }};
    st       public.api_quota_state{{ suffix }};
    v_now    timestamptz;
    v_now_s  bigint;
    v_ring   integer[];
    v_calls  bigint;
    v_wb     record;
    m_rows   public.queue_claim{{ suffix }}[];
    t_calls  bigint;
    t_bytes  bigint;
    keep     integer := 0;
    c_calls  bigint := 0;
    c_bytes  bigint := 0;
    tries    integer := 0;
    races    integer := 0;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'get_queue_batch{{ suffix }}: p_batch_size must be at least 1, got %', p_batch_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    v_now := pg_catalog.clock_timestamp();
    v_now_s := pg_catalog.floor(EXTRACT(epoch FROM v_now))::bigint;

    LOOP
        BEGIN
            WITH candidates AS MATERIALIZED (
                SELECT q.ctid AS tid
                FROM public.api_call_queue{{ suffix }}_pending AS q
                WHERE q.scheduled_for <= v_now
                ORDER BY q.priority DESC, q.scheduled_for, q.id
                -- A lock-free look at the call budget sizes the batch (none when it is spent).
                LIMIT (SELECT GREATEST(0, LEAST(p_batch_size, cfg.calls_per_window - COALESCE(sum(x), 0)))
                       FROM public.api_quota_state{{ suffix }} AS s,
                            pg_catalog.unnest(public.quota_ring_advance{{ suffix }}(s.call_ring, s.ring_epoch, v_now_s))
                                AS x)
                FOR UPDATE OF q SKIP LOCKED
            ), gone AS (
                -- A row updated after our snapshot was locked in its newest version, which
                -- this snapshot does not see: it stays pending, untouched, for the next claim.
                DELETE FROM public.api_call_queue{{ suffix }}_pending AS q
                WHERE q.ctid = ANY (ARRAY(SELECT c.tid FROM candidates AS c))
                RETURNING q.id, q.symbol, q.data_type, q.priority, q.attempts, q.max_attempts, q.scheduled_for,
                          q.created_at, q.estimated_bytes, q.actual_bytes, q.last_error
            ), claimed AS (
                -- The jobs as they will be in processing, with what the budget needs: calls
                -- per job (one per endpoint) and its size estimate. Not sorted back into claim
                -- order (the delete returns them in physical order): only a batch that must be
                -- cut needs that order, and sorts itself below.
                SELECT g.id, g.symbol, g.data_type, g.priority, g.attempts + 1 AS attempts, g.max_attempts,
                       g.scheduled_for, g.created_at, g.actual_bytes, g.last_error,
                       COALESCE(g.estimated_bytes, r.estimated_bytes, 0) AS estimated_bytes, r.endpoints
                FROM gone AS g LEFT JOIN public.data_type_registry{{ suffix }} AS r ON r.data_type = g.data_type
            ), moved AS (
                INSERT INTO public.api_call_queue{{ suffix }}_processing
                    (id, symbol, data_type, priority, status, attempts, max_attempts, scheduled_for, created_at,
                     started_at, finished_at, worker_id, estimated_bytes, actual_bytes, last_error)
                SELECT c.id, c.symbol, c.data_type, c.priority, 'processing', c.attempts, c.max_attempts,
                       c.scheduled_for, c.created_at, v_now, NULL, p_worker_id, c.estimated_bytes, c.actual_bytes,
                       c.last_error
                FROM claimed AS c
            )
            SELECT pg_catalog.array_agg(ROW(c.id, c.symbol, c.data_type, c.priority, c.attempts, c.max_attempts,
                                            c.estimated_bytes, c.endpoints, c.created_at,
                                            c.scheduled_for)::public.queue_claim{{ suffix }}),
                   sum(COALESCE(pg_catalog.cardinality(c.endpoints), 1)), sum(c.estimated_bytes)
            INTO m_rows, t_calls, t_bytes
            FROM claimed AS c;
            EXIT;
        EXCEPTION WHEN serialization_failure THEN
            -- A candidate moved to another partition by an UPDATE of its status (or, under
            -- REPEATABLE READ, changed at all) between our snapshot and our lock. The
            -- subtransaction undid our part; try again with a fresh snapshot, or give up
            -- empty-handed (never with an error).
            tries := tries + 1;
            IF tries > cfg.claim_retries THEN
                RETURN;
            END IF;
        END;
    END LOOP;
    IF m_rows IS NULL THEN
        RETURN;
    END IF;

    -- The serialized part: exact budgets. The budget row is read, the batch cut to fit, and
    -- the row written back only if no other claim wrote it in between (else read again), so
    -- its lock is held just from that write to commit. After a few lost races the row is
    -- locked before reading instead, which always succeeds.
    LOOP
        BEGIN
            IF races < 3 THEN
                SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }};
            ELSE
                SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }} FOR UPDATE;
            END IF;
            v_ring := public.quota_ring_advance{{ suffix }}(st.call_ring, st.ring_epoch, v_now_s);
            SELECT w.*, (SELECT COALESCE(sum(x), 0) FROM pg_catalog.unnest(v_ring) AS x) AS calls INTO v_wb
            FROM public.quota_window_bytes{{ suffix }}(v_now, st, cfg.byte_window_days) AS w;
            v_calls := v_wb.calls;
            IF v_calls + t_calls <= cfg.calls_per_window AND v_wb.bytes_used + t_bytes <= cfg.bytes_per_window THEN
                -- The whole batch fits: the usual case, away from the edge of either budget.
                keep := pg_catalog.cardinality(m_rows);
                c_calls := t_calls;
                c_bytes := t_bytes;
            ELSE
                -- The batch must be cut: put it in claim order (highest priority, then oldest)
                -- and keep the longest prefix that fits. Running sums only grow, so the rows
                -- within both budgets are exactly a prefix.
                m_rows := ARRAY(SELECT u FROM pg_catalog.unnest(m_rows) AS u
                                ORDER BY u.priority DESC, u.scheduled_for, u.id);
                SELECT count(*), COALESCE(max(p.calls), 0), COALESCE(max(p.bytes), 0) INTO keep, c_calls, c_bytes
                FROM (SELECT sum(COALESCE(pg_catalog.cardinality(u.endpoints), 1)) OVER w AS calls,
                             sum(u.estimated_bytes) OVER w AS bytes
                      FROM pg_catalog.unnest(m_rows) WITH ORDINALITY AS u(id, symbol, data_type, priority, attempts,
                                                                           max_attempts, estimated_bytes, endpoints,
                                                                           created_at, scheduled_for, n)
                      WINDOW w AS (ORDER BY u.n)) AS p
                WHERE v_calls + p.calls <= cfg.calls_per_window AND v_wb.bytes_used + p.bytes <= cfg.bytes_per_window;
            END IF;
            IF keep > 0 THEN
                v_ring[(v_now_s % pg_catalog.cardinality(v_ring)) + 1] :=
                    v_ring[(v_now_s % pg_catalog.cardinality(v_ring)) + 1] + c_calls;
            END IF;
            -- Under READ COMMITTED a concurrent writer's row is re-checked against the values
            -- read: any difference means the budget moved, and nothing is written.
            UPDATE public.api_quota_state{{ suffix }} AS s
            SET call_ring = v_ring, ring_epoch = GREATEST(st.ring_epoch, v_now_s),
                window_from = v_wb.window_from, cached_until = v_wb.cached_until, cached_bytes = v_wb.cached_bytes,
                released_cached = v_wb.released_cached, reserved_total = st.reserved_total + c_bytes
            WHERE (s.call_ring, s.ring_epoch, s.window_from, s.cached_until, s.cached_bytes, s.reserved_total,
                   s.released_cached)
                  = (st.call_ring, st.ring_epoch, st.window_from, st.cached_until, st.cached_bytes, st.reserved_total,
                     st.released_cached);
            EXIT WHEN FOUND;
            races := races + 1;
        EXCEPTION WHEN serialization_failure THEN
            -- Only under REPEATABLE READ or SERIALIZABLE: another claim changed the budget after
            -- this transaction's snapshot. Nothing may be handed out; the caller asks again.
            keep := 0;
            EXIT;
        END;
    END LOOP;
    IF keep < pg_catalog.cardinality(m_rows) THEN
        UPDATE public.api_call_queue{{ suffix }} AS q
        SET status = 'pending', started_at = NULL, worker_id = NULL, attempts = q.attempts - 1
        WHERE q.status = 'processing' AND q.id = ANY (ARRAY(SELECT m.id FROM pg_catalog.unnest(m_rows[keep + 1:]) AS m));
    END IF;
    IF keep = 0 THEN
        RETURN;
    END IF;

    RETURN QUERY SELECT * FROM pg_catalog.unnest(m_rows[1:keep]);
END
{% endcall %}

{{ service_role_only(['public.get_queue_batch' ~ suffix ~ '(text, integer)']) }}
