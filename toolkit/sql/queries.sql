-- Named queries of the toolkit's own (loaded by toolkit.queries). Values are bind parameters.

-- name: relation_exists
SELECT to_regclass(%(name)s) IS NOT NULL;

-- name: ledger_entries
SELECT phase, step, checksum, template_hash, applied_by, applied_at, toolkit_version,
       duration_ms, verified_at, verify_ok
FROM toolkit.ledger
ORDER BY phase, applied_at, step;

-- name: ledger_insert
INSERT INTO toolkit.ledger (phase, step, checksum, template_hash, applied_by, toolkit_version,
                            duration_ms, verified_at, verify_ok)
VALUES (%(phase)s, %(step)s, %(checksum)s, %(template_hash)s, %(actor)s, %(version)s,
        %(duration_ms)s, now(), true);

-- name: ledger_delete
DELETE FROM toolkit.ledger WHERE phase = %(phase)s AND step = %(step)s;

-- name: ledger_mark_verified
UPDATE toolkit.ledger SET verified_at = now(), verify_ok = %(ok)s
WHERE phase = %(phase)s AND step = %(step)s;

-- name: history_insert
INSERT INTO toolkit.history (action, phase, step, checksum, actor, toolkit_version, ok, detail)
VALUES (%(action)s, %(phase)s, %(step)s, %(checksum)s, %(actor)s, %(version)s, %(ok)s, %(detail)s);

-- name: try_apply_lock
SELECT pg_try_advisory_lock(%(key)s);

-- name: release_apply_lock
SELECT pg_advisory_unlock(%(key)s);

-- name: apply_lock_holder
SELECT a.pid, a.application_name, a.usename, a.client_addr::text AS client_addr,
       a.backend_start, a.state
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid = (%(key)s >> 32)::oid AND l.objid = (%(key)s & 4294967295)::oid AND l.objsubid = 1
LIMIT 1;

-- name: step_session
-- is_local: true inside a transaction; false for steps that run outside one.
SELECT set_config('lock_timeout', %(lock_timeout)s, %(is_local)s),
       set_config('statement_timeout', %(statement_timeout)s, %(is_local)s),
       set_config('search_path', 'public, extensions', %(is_local)s),
       set_config('toolkit.params', %(params)s, %(is_local)s),
       set_config('toolkit.actor', %(actor)s, %(is_local)s);

-- name: server_info
SELECT current_setting('server_version') AS server_version,
       current_database() AS database,
       current_user AS "user",
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') AS pg_cron,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_net') AS pg_net,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser;

-- name: cron_jobs
SELECT j.jobid, j.jobname, j.schedule, j.command, j.active, j.database, j.username,
       d.status AS last_status, d.start_time AS last_start, d.end_time AS last_end, d.return_message AS last_message
FROM cron.job AS j
LEFT JOIN LATERAL (
    SELECT r.status, r.start_time, r.end_time, r.return_message
    FROM cron.job_run_details AS r
    WHERE r.jobid = j.jobid
    ORDER BY r.start_time DESC NULLS LAST
    LIMIT 1
) AS d ON true
ORDER BY j.jobname NULLS LAST, j.jobid;
