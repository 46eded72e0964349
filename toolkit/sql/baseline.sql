-- Queries of `toolkit baseline`. {placeholders} are identifiers of the plan's data tables.

-- name: snapshot
-- One consistent view for the whole capture; its start is the capture's time.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: now
SELECT now();

-- name: jobs
-- Every job postgres may see, with what cron.job_run_details lets it read of their runs (on
-- Supabase the runs of its own jobs) over the last seven days.
SELECT j.jobid, j.jobname, j.schedule, j.command, j.username AS owner, j.active, j.database,
       d.start_time AS last_start, d.end_time AS last_end, d.status AS last_status, d.return_message AS last_message,
       coalesce(s.runs, 0) AS runs_7d, coalesce(s.failures, 0) AS failures_7d,
       f.start_time AS last_failure_at, f.return_message AS last_failure_message
FROM cron.job AS j
LEFT JOIN LATERAL (SELECT r.start_time, r.end_time, r.status, r.return_message FROM cron.job_run_details AS r
                   WHERE r.jobid = j.jobid ORDER BY r.start_time DESC NULLS LAST, r.runid DESC LIMIT 1) AS d ON true
LEFT JOIN LATERAL (SELECT count(*) AS runs, count(*) FILTER (WHERE r.status = 'failed') AS failures
                   FROM cron.job_run_details AS r
                   WHERE r.jobid = j.jobid AND r.start_time > %(at)s - interval '7 days') AS s ON true
LEFT JOIN LATERAL (SELECT r.start_time, r.return_message FROM cron.job_run_details AS r
                   WHERE r.jobid = j.jobid AND r.status = 'failed'
                   ORDER BY r.start_time DESC NULLS LAST, r.runid DESC LIMIT 1) AS f ON true
ORDER BY j.jobname NULLS LAST, j.jobid;

-- name: table_exists
SELECT to_regclass(%(name)s) IS NOT NULL;

-- name: table_figures
-- Rows, keys (what one legacy run refreshes, one call per key and endpoint), size, and the
-- age of every row's timestamp at the capture's time: percentiles, newest, oldest.
SELECT count(*) AS row_count, count(DISTINCT t.{key}) AS keys,
       pg_total_relation_size(%(name)s::regclass) AS size_bytes,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM %(at)s - t.{ts})) AS age_seconds,
       extract(epoch FROM %(at)s - max(t.{ts})) AS newest_age_seconds,
       extract(epoch FROM %(at)s - min(t.{ts})) AS oldest_age_seconds
FROM public.{table} AS t;

-- name: table_figures_global
-- A global type's table is one key: its legacy job makes one call per endpoint and run.
SELECT count(*) AS row_count, 1::bigint AS keys,
       pg_total_relation_size(%(name)s::regclass) AS size_bytes,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM %(at)s - t.{ts})) AS age_seconds,
       extract(epoch FROM %(at)s - max(t.{ts})) AS newest_age_seconds,
       extract(epoch FROM %(at)s - min(t.{ts})) AS oldest_age_seconds
FROM public.{table} AS t;

-- name: store
INSERT INTO toolkit.baselines (captured_at, captured_by, toolkit_version, jobs, tables, implied)
VALUES (%(at)s, %(actor)s, %(version)s, %(jobs)s, %(tables)s, %(implied)s)
RETURNING id;

-- name: latest
SELECT id, captured_at, captured_by, toolkit_version, jobs, tables, implied
FROM toolkit.baselines ORDER BY captured_at DESC, id DESC LIMIT 1;

-- name: queue_usage
-- What the queue spent: calls and bytes in the last day and the last 30 days.
SELECT coalesce(sum(u.calls) FILTER (WHERE u.bucket > now() - interval '1 day'), 0) AS calls_last_day,
       coalesce(sum(u.bytes) FILTER (WHERE u.bucket > now() - interval '30 days'), 0) AS bytes_last_30_days
FROM public.{usage} AS u;
