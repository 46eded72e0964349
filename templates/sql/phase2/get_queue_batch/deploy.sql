{% from '_macros.sql' import private_definer, service_role_only -%}
-- The claim: one call hands a worker up to p_batch_size due jobs, the highest-priority first,
-- then the oldest, moving them pending -> processing under a new lease, and never more bytes
-- than the byte budget has left, across any number of concurrent claimers.
--
-- The call budget is enforced where the provider counts it, when the calls are made: the
-- worker takes a permit for each call (or each wave of a job's calls) just before making it
-- (take_call_permits, below). The claim only sizes its batch by the calls left, so that it
-- does not hand out jobs that cannot be called now.
--
-- Only the byte budget's write is serialized. Candidates are locked (SKIP LOCKED) and moved
-- first; then, usually, one update of the quota row checks the batch against the bytes used
-- and reserves it. At the edge of the budget, or when the minute's byte cache must move on,
-- the bytes are recomputed exactly from the quota row, the longest prefix that fits is kept,
-- and the row's byte columns are written back on condition that no other claim wrote them
-- meanwhile (otherwise: read and cut again). Any excess (another claimer spent the budget
-- meanwhile: rare, only at the edge of the budget) is moved straight back. The row lock is
-- held from that write to commit.
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
    scheduled_for   timestamptz,
    lease           bigint
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
    v_lease  bigint;
    v_wb     record;
    m_rows   public.queue_claim{{ suffix }}[];
    t_bytes  bigint;
    keep     integer := 0;
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
    -- One lease for the whole batch: what matters is that no other claim of a job shares it.
    v_lease := pg_catalog.nextval('public.api_call_queue{{ suffix }}_lease_seq');

    LOOP
        BEGIN
            WITH candidates AS MATERIALIZED (
                SELECT q.ctid AS tid
                FROM public.api_call_queue{{ suffix }}_pending AS q
                WHERE q.scheduled_for <= v_now
                ORDER BY q.priority DESC, q.scheduled_for, q.id
                -- A lock-free look at the calls left sizes the batch (none when they are spent).
                -- (The ring's first element is the calls it counts.)
                LIMIT (SELECT GREATEST(0, LEAST(p_batch_size, cfg.calls_per_window - (public.quota_ring_advance{{ suffix }}(
                                  s.call_ring, s.ring_epoch,
                                  pg_catalog.floor(EXTRACT(epoch FROM v_now) * 1000 / s.ring_slot_ms)::bigint))[1]))
                       FROM public.api_quota_state{{ suffix }} AS s)
                FOR UPDATE OF q SKIP LOCKED
            ), gone AS (
                -- A row updated after our snapshot was locked in its newest version, which
                -- this snapshot does not see: it stays pending, untouched, for the next claim.
                DELETE FROM public.api_call_queue{{ suffix }}_pending AS q
                WHERE q.ctid = ANY (ARRAY(SELECT c.tid FROM candidates AS c))
                RETURNING q.id, q.symbol, q.data_type, q.priority, q.attempts, q.max_attempts, q.scheduled_for,
                          q.created_at, q.estimated_bytes, q.actual_bytes, q.last_error
            ), claimed AS (
                -- The jobs as they will be in processing, with their size estimate (what the
                -- type has learned from real responses, else its configured estimate). Not
                -- sorted back into claim order (the delete returns them in physical order):
                -- only a batch that must be cut needs that order, and sorts itself below.
                SELECT g.id, g.symbol, g.data_type, g.priority, g.attempts + 1 AS attempts, g.max_attempts,
                       g.scheduled_for, g.created_at, g.actual_bytes, g.last_error,
                       COALESCE(g.estimated_bytes, r.learned_bytes, r.estimated_bytes, 0) AS estimated_bytes,
                       r.endpoints
                FROM gone AS g LEFT JOIN public.data_type_registry{{ suffix }} AS r ON r.data_type = g.data_type
            ), moved AS (
                INSERT INTO public.api_call_queue{{ suffix }}_processing
                    (id, symbol, data_type, priority, status, attempts, max_attempts, scheduled_for, created_at,
                     started_at, finished_at, worker_id, estimated_bytes, actual_bytes, last_error, lease)
                SELECT c.id, c.symbol, c.data_type, c.priority, 'processing', c.attempts, c.max_attempts,
                       c.scheduled_for, c.created_at, v_now, NULL, p_worker_id, c.estimated_bytes, c.actual_bytes,
                       c.last_error, v_lease
                FROM claimed AS c
            )
            SELECT pg_catalog.array_agg(ROW(c.id, c.symbol, c.data_type, c.priority, c.attempts, c.max_attempts,
                                            c.estimated_bytes, c.endpoints, c.created_at,
                                            c.scheduled_for, v_lease)::public.queue_claim{{ suffix }}),
                   sum(c.estimated_bytes)
            INTO m_rows, t_bytes
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

    -- The serialized part: the exact byte budget. The call ring in the same row is the
    -- permits': neither compares nor writes the other's columns.
    --
    -- The usual case first: the whole batch fits and the row's byte cache still stands (no
    -- bucket left the window or joined the cache since it was written, i.e. within its
    -- minute). Then the bytes used are the estimates in flight, the cached bytes and the
    -- buckets since the cache ends, and one update checks them against the newest row and
    -- reserves the batch: under READ COMMITTED a row another claim wrote meanwhile is locked
    -- and checked again in its new version, so the reservations are serialized all the same.
    -- (The buckets are read from this statement's snapshot, as quota_window_bytes reads them.)
    IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
        UPDATE public.api_quota_state{{ suffix }} AS s
        SET reserved_total = s.reserved_total + t_bytes
        WHERE s.cached_until >= pg_catalog.date_trunc('minute', v_now) - interval '1 minute'
          AND s.window_from >= pg_catalog.date_trunc('minute', v_now) - pg_catalog.make_interval(days => cfg.byte_window_days)
          AND (SELECT GREATEST(s.reserved_total - s.released_cached - COALESCE(sum(u.released), 0)::bigint, 0)
                      + s.cached_bytes + COALESCE(sum(u.bytes), 0)::bigint
               FROM public.api_data_usage{{ suffix }} AS u
               WHERE u.bucket >= s.cached_until) + t_bytes <= cfg.bytes_per_window;
        IF FOUND THEN
            RETURN QUERY SELECT * FROM pg_catalog.unnest(m_rows);
            RETURN;
        END IF;
    END IF;

    -- Otherwise (the minute turned, the batch must be cut, or another isolation level): the
    -- budget row is read, the window's bytes computed and the cache moved on, the batch cut
    -- to fit, and the row's byte columns written back only if no other claim wrote them in
    -- between (else read again), so its lock is held just from that write to commit. After a
    -- few lost races the row is locked before reading instead, which always succeeds.
    LOOP
        BEGIN
            IF races < 3 THEN
                SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }};
            ELSE
                SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }} FOR UPDATE;
            END IF;
            SELECT w.* INTO v_wb FROM public.quota_window_bytes{{ suffix }}(v_now, st, cfg.byte_window_days) AS w;
            IF v_wb.bytes_used + t_bytes <= cfg.bytes_per_window THEN
                -- The whole batch fits: the usual case, away from the edge of the budget.
                keep := pg_catalog.cardinality(m_rows);
                c_bytes := t_bytes;
            ELSE
                -- The batch must be cut: put it in claim order (highest priority, then oldest)
                -- and keep the longest prefix that fits. Running sums only grow, so the rows
                -- within the budget are exactly a prefix.
                m_rows := ARRAY(SELECT u FROM pg_catalog.unnest(m_rows) AS u
                                ORDER BY u.priority DESC, u.scheduled_for, u.id);
                SELECT count(*), COALESCE(max(p.bytes), 0) INTO keep, c_bytes
                FROM (SELECT sum(u.estimated_bytes) OVER w AS bytes
                      FROM pg_catalog.unnest(m_rows) WITH ORDINALITY AS u(id, symbol, data_type, priority, attempts,
                                                                           max_attempts, estimated_bytes, endpoints,
                                                                           created_at, scheduled_for, lease, n)
                      WINDOW w AS (ORDER BY u.n)) AS p
                WHERE v_wb.bytes_used + p.bytes <= cfg.bytes_per_window;
            END IF;
            -- Under READ COMMITTED a concurrent writer's row is re-checked against the values
            -- read: any difference means the budget moved, and nothing is written.
            UPDATE public.api_quota_state{{ suffix }} AS s
            SET window_from = v_wb.window_from, cached_until = v_wb.cached_until, cached_bytes = v_wb.cached_bytes,
                released_cached = v_wb.released_cached, reserved_total = st.reserved_total + c_bytes
            WHERE (s.window_from, s.cached_until, s.cached_bytes, s.reserved_total, s.released_cached)
                  = (st.window_from, st.cached_until, st.cached_bytes, st.reserved_total, st.released_cached);
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
        SET status = 'pending', started_at = NULL, worker_id = NULL, attempts = q.attempts - 1, lease = NULL
        WHERE q.status = 'processing' AND q.id = ANY (ARRAY(SELECT m.id FROM pg_catalog.unnest(m_rows[keep + 1:]) AS m));
    END IF;
    IF keep = 0 THEN
        RETURN;
    END IF;

    RETURN QUERY SELECT * FROM pg_catalog.unnest(m_rows[1:keep]);
END
{% endcall %}

-- Call permits: a worker asks for them just before it calls the provider, one request per
-- job (and wave of that job's calls), and calls only with a permit. Requests are granted in
-- order, each whole or not at all, as the longest prefix that fits the calls left in the ring;
-- a request whose job the caller no longer holds (another lease, or not in processing) gets
-- none; while the breaker is open none is granted, while it is half-open only its probe's
-- calls. Permitted calls are counted in the ring at the second of the permit, and in the
-- usage bucket of the minute. Returns each request's job, whether it was granted, and why not
-- ('budget', 'lease', 'breaker'). Calls are counted in the ring's slot of the permit's time
-- (api_quota_state, api_data_usage's deploy.sql, says why the ring's length makes it exact).
--
-- The clock is read after the ring: since a write succeeds only on the row as read, writes
-- that succeed carry non-decreasing slots, so the permit written last in any span of the
-- ring's length is the one with the latest slot, and it was checked against all the others.
{% call private_definer('public.take_call_permits' ~ suffix, 'p_job_ids bigint[], p_leases bigint[], p_calls integer[]',
                        returns='TABLE (job_id bigint, granted boolean, reason text)',
                        config=['enable_seqscan = off', 'jit = off']) %}
DECLARE
    cfg       public.queue_config{{ suffix }};
    st        public.api_quota_state{{ suffix }};
    brk       text;
    allowance integer;
    v_slot    bigint;
    v_ring    integer[];
    v_slots   integer;
    used      bigint;
    v_held    boolean[];
    keep      integer := 0;
    total     integer := 0;
    races     integer := 0;
BEGIN
    IF pg_catalog.cardinality(p_job_ids) IS DISTINCT FROM pg_catalog.cardinality(p_leases)
       OR pg_catalog.cardinality(p_job_ids) IS DISTINCT FROM pg_catalog.cardinality(p_calls) THEN
        RAISE EXCEPTION 'take_call_permits{{ suffix }}: job ids, leases and calls must be arrays of one length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.unnest(p_calls) AS c WHERE c IS NULL OR c < 1) THEN
        RAISE EXCEPTION 'take_call_permits{{ suffix }}: every request needs at least one call'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF COALESCE(pg_catalog.cardinality(p_job_ids), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT pg_catalog.array_agg(EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_processing AS q
                                        WHERE q.id = i.id AND q.lease = i.lease) ORDER BY i.n)
    INTO v_held
    FROM unnest(p_job_ids, p_leases) WITH ORDINALITY AS i(id, lease, n);

    -- The breaker: read without a lock when closed (the usual case); a half-open probe's
    -- allowance is taken under the row's lock, so that concurrent requests cannot overspend it.
    SELECT p.breaker_state INTO brk FROM public.processor_state{{ suffix }} AS p;
    IF brk = 'half_open' THEN
        SELECT p.breaker_state, p.probe_calls_left INTO brk, allowance
        FROM public.processor_state{{ suffix }} AS p FOR UPDATE;
    END IF;

    IF brk IS DISTINCT FROM 'open' THEN
        LOOP
            BEGIN
                IF races < 3 THEN
                    SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }};
                ELSE
                    SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }} FOR UPDATE;
                END IF;
                v_slot := pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000 / st.ring_slot_ms)::bigint;
                v_ring := public.quota_ring_advance{{ suffix }}(st.call_ring, st.ring_epoch, v_slot);
                v_slots := pg_catalog.cardinality(v_ring) - 1;  -- the total, then the slots
                used := v_ring[1];
                SELECT count(*), COALESCE(max(p.running), 0) INTO keep, total
                FROM (SELECT sum(r.calls) OVER (ORDER BY r.n) AS running
                      FROM unnest(v_held, p_calls) WITH ORDINALITY AS r(held, calls, n)
                      WHERE r.held) AS p
                WHERE used + p.running <= cfg.calls_per_window
                  AND (brk IS DISTINCT FROM 'half_open' OR p.running <= COALESCE(allowance, 0));
                EXIT WHEN total = 0;
                v_ring[(v_slot % v_slots)::integer + 2] := v_ring[(v_slot % v_slots)::integer + 2] + total;
                v_ring[1] := v_ring[1] + total;
                UPDATE public.api_quota_state{{ suffix }} AS s
                SET call_ring = v_ring, ring_epoch = GREATEST(st.ring_epoch, v_slot)
                WHERE (s.call_ring, s.ring_epoch) = (st.call_ring, st.ring_epoch);
                EXIT WHEN FOUND;
                races := races + 1;
            EXCEPTION WHEN serialization_failure THEN
                -- Only under REPEATABLE READ or SERIALIZABLE: the ring moved after this
                -- transaction's snapshot. Nothing is granted; the caller asks again.
                keep := 0;
                total := 0;
                EXIT;
            END;
        END LOOP;
    END IF;

    IF total > 0 THEN
        PERFORM public.record_api_usage{{ suffix }}(total, 0, 0, 0, 0, 0);
        IF brk = 'half_open' THEN
            UPDATE public.processor_state{{ suffix }} SET probe_calls_left = probe_calls_left - total;
        END IF;
    END IF;
    RETURN QUERY
    SELECT r.id, r.held AND r.rank <= keep,
           CASE WHEN NOT r.held THEN 'lease'
                WHEN r.rank <= keep THEN NULL
                WHEN brk = 'open' OR (brk = 'half_open' AND r.running > COALESCE(allowance, 0)) THEN 'breaker'
                ELSE 'budget' END
    FROM (SELECT i.id, i.held, i.n,
                 count(*) FILTER (WHERE i.held) OVER (ORDER BY i.n) AS rank,
                 sum(i.calls) FILTER (WHERE i.held) OVER (ORDER BY i.n) AS running
          FROM unnest(p_job_ids, v_held, p_calls) WITH ORDINALITY AS i(id, held, calls, n)) AS r
    ORDER BY r.n;
END
{% endcall %}

{{ service_role_only(['public.get_queue_batch' ~ suffix ~ '(text, integer)',
                      'public.take_call_permits' ~ suffix ~ '(bigint[], bigint[], integer[])']) }}
