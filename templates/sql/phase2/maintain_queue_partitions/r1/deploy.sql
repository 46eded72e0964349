{% from '_macros.sql' import private_definer, service_role_only -%}
-- Housekeeping, each call bounded so that it never holds locks for long: completed and
-- failed jobs past their retention, usage buckets older than the byte window, and the quota
-- cache rebuilt from the buckets (so that deleting them can never skew it). History rows are
-- found by age and deleted by their ctid (completed has no index on id).
{% call private_definer('public.maintain_queue_partitions' ~ suffix, returns='jsonb') %}
DECLARE
    cfg       public.queue_config{{ suffix }};
    completed integer;
    failed    integer;
    buckets   integer;
    now_ts    timestamptz := pg_catalog.clock_timestamp();
    from_ts   timestamptz;
    until_ts  timestamptz;
    wb        record;
    st        public.api_quota_state{{ suffix }};
    actual_inflight bigint;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};

    WITH old AS (
        SELECT q.ctid AS tid FROM public.api_call_queue{{ suffix }}_completed AS q
        WHERE q.finished_at < now_ts - pg_catalog.make_interval(secs => cfg.completed_retention_hours * 3600)
        ORDER BY q.finished_at LIMIT cfg.maintenance_batch_size FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM public.api_call_queue{{ suffix }}_completed AS q
        WHERE q.ctid = ANY (ARRAY(SELECT o.tid FROM old AS o)) RETURNING 1
    )
    SELECT count(*) INTO completed FROM gone;

    WITH old AS (
        SELECT q.ctid AS tid FROM public.api_call_queue{{ suffix }}_failed AS q
        WHERE q.finished_at < now_ts - pg_catalog.make_interval(secs => cfg.failed_retention_days * 86400)
        ORDER BY q.finished_at LIMIT cfg.maintenance_batch_size FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM public.api_call_queue{{ suffix }}_failed AS q
        WHERE q.ctid = ANY (ARRAY(SELECT o.tid FROM old AS o)) RETURNING 1
    )
    SELECT count(*) INTO failed FROM gone;

    -- Buckets are kept a day past the byte window, for the weekly metrics and for slack.
    WITH old AS (
        SELECT u.bucket FROM public.api_data_usage{{ suffix }} AS u
        WHERE u.bucket < now_ts - pg_catalog.make_interval(days => cfg.byte_window_days + 1)
        ORDER BY u.bucket LIMIT cfg.maintenance_batch_size
    ), gone AS (
        DELETE FROM public.api_data_usage{{ suffix }} AS u USING old WHERE u.bucket = old.bucket RETURNING 1
    )
    SELECT count(*) INTO buckets FROM gone;

    -- Rebuild the quota cache from the buckets, and re-base the in-flight reservation on what
    -- processing really holds, so that neither deleted buckets nor a job moved by hand can
    -- skew the budget for long. Processing is read before the buckets: a completion between
    -- the two is then counted in flight once too often, never once too few.
    SELECT * INTO STRICT st FROM public.api_quota_state{{ suffix }} FOR UPDATE;
    SELECT COALESCE(sum(q.estimated_bytes), 0) INTO actual_inflight FROM public.api_call_queue{{ suffix }}_processing AS q;
    SELECT * INTO wb FROM public.quota_window_bytes{{ suffix }}(now_ts, st, cfg.byte_window_days);
    from_ts := pg_catalog.date_trunc('minute', now_ts) - pg_catalog.make_interval(days => cfg.byte_window_days);
    until_ts := wb.cached_until;
    UPDATE public.api_quota_state{{ suffix }} AS s
    SET window_from = from_ts, cached_until = until_ts, released_cached = wb.released_cached,
        reserved_total = s.reserved_total - wb.inflight + actual_inflight,
        cached_bytes = COALESCE((SELECT sum(u.bytes) FROM public.api_data_usage{{ suffix }} AS u
                                 WHERE u.bucket >= from_ts AND u.bucket < until_ts), 0);

    RETURN pg_catalog.jsonb_build_object(
        'completed_deleted', completed, 'failed_deleted', failed, 'usage_buckets_deleted', buckets,
        'more', completed = cfg.maintenance_batch_size OR failed = cfg.maintenance_batch_size
                OR buckets = cfg.maintenance_batch_size);
END
{% endcall %}

-- Failed jobs back to pending with fresh attempts (toolkit queue retry-failed), skipping any
-- symbol and type that already has a live job. Returns how many were requeued.
{% call private_definer('public.retry_failed_jobs' ~ suffix, 'p_data_type text, p_limit integer',
                        returns='integer') %}
DECLARE
    job   record;
    moved integer := 0;
BEGIN
    FOR job IN
        SELECT f.id FROM public.api_call_queue{{ suffix }}_failed AS f
        WHERE (p_data_type IS NULL OR f.data_type = p_data_type)
          AND NOT EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_pending AS p
                          WHERE p.symbol = f.symbol AND p.data_type = f.data_type)
          AND NOT EXISTS (SELECT 1 FROM public.api_call_queue{{ suffix }}_processing AS p
                          WHERE p.symbol = f.symbol AND p.data_type = f.data_type)
        ORDER BY f.finished_at DESC
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            UPDATE public.api_call_queue{{ suffix }} AS q
            SET status = 'pending', attempts = 0, scheduled_for = pg_catalog.clock_timestamp(),
                finished_at = NULL, started_at = NULL, worker_id = NULL
            WHERE q.status = 'failed' AND q.id = job.id;
            moved := moved + 1;
        EXCEPTION WHEN unique_violation OR serialization_failure THEN
            NULL;  -- a live job for the pair appeared meanwhile: that one will refresh it
        END;
    END LOOP;
    RETURN moved;
END
{% endcall %}

-- Deletes up to p_limit completed and failed jobs finished before p_older_than ago
-- (toolkit queue purge); the caller repeats until it returns 0.
{% call private_definer('public.purge_queue_history' ~ suffix, 'p_older_than interval, p_limit integer',
                        returns='integer') %}
DECLARE
    n integer;
    m integer;
BEGIN
    WITH old AS (
        SELECT q.ctid AS tid FROM public.api_call_queue{{ suffix }}_completed AS q
        WHERE q.finished_at < pg_catalog.clock_timestamp() - p_older_than
        ORDER BY q.finished_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM public.api_call_queue{{ suffix }}_completed AS q
        WHERE q.ctid = ANY (ARRAY(SELECT o.tid FROM old AS o)) RETURNING 1
    )
    SELECT count(*) INTO n FROM gone;
    WITH old AS (
        SELECT q.ctid AS tid FROM public.api_call_queue{{ suffix }}_failed AS q
        WHERE q.finished_at < pg_catalog.clock_timestamp() - p_older_than
        ORDER BY q.finished_at LIMIT GREATEST(p_limit - n, 0) FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM public.api_call_queue{{ suffix }}_failed AS q
        WHERE q.ctid = ANY (ARRAY(SELECT o.tid FROM old AS o)) RETURNING 1
    )
    SELECT count(*) INTO m FROM gone;
    RETURN n + m;
END
{% endcall %}

{{ service_role_only(['public.maintain_queue_partitions' ~ suffix ~ '()',
                      'public.retry_failed_jobs' ~ suffix ~ '(text, integer)',
                      'public.purge_queue_history' ~ suffix ~ '(interval, integer)']) }}
