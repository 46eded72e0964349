-- Named queries of the toolkit's own (loaded by toolkit.queries). Values are bind parameters.

-- name: relation_exists
SELECT to_regclass(%(name)s) IS NOT NULL;

-- name: schema_version
SELECT coalesce(max(version), 0) FROM toolkit.schema_version;

-- name: schema_version_insert
INSERT INTO toolkit.schema_version (version, name, toolkit_version)
VALUES (%(version)s, %(name)s, %(toolkit_version)s);

-- name: take_xact_lock
SELECT pg_advisory_xact_lock(%(key)s);

-- name: ledger_entries
SELECT phase, step, checksum, template_hash, applied_by, applied_at, toolkit_version,
       duration_ms, verified_at, verify_ok, revision, objects
FROM toolkit.ledger
ORDER BY phase, applied_at, step;

-- name: ledger_entries_v1
-- A schema of version 1 (read-only commands do not upgrade it): every step at revision 1.
SELECT phase, step, checksum, template_hash, applied_by, applied_at, toolkit_version,
       duration_ms, verified_at, verify_ok, 1 AS revision, NULL::jsonb AS objects
FROM toolkit.ledger
ORDER BY phase, applied_at, step;

-- name: ledger_insert
INSERT INTO toolkit.ledger (phase, step, revision, checksum, template_hash, applied_by, toolkit_version,
                            duration_ms, verified_at, verify_ok)
VALUES (%(phase)s, %(step)s, %(revision)s, %(checksum)s, %(template_hash)s, %(actor)s, %(version)s,
        %(duration_ms)s, now(), true);

-- name: ledger_revise
-- An upgrade or downgrade: the step is now at another revision, applied now, verified.
UPDATE toolkit.ledger
SET revision = %(revision)s, checksum = %(checksum)s, template_hash = %(template_hash)s, applied_by = %(actor)s,
    applied_at = now(), toolkit_version = %(version)s, duration_ms = %(duration_ms)s, verified_at = now(),
    verify_ok = true
WHERE phase = %(phase)s AND step = %(step)s;

-- name: ledger_set_objects
UPDATE toolkit.ledger SET objects = %(objects)s WHERE phase = %(phase)s AND step = %(step)s;

-- name: ledger_delete
DELETE FROM toolkit.ledger WHERE phase = %(phase)s AND step = %(step)s;

-- name: ledger_mark_verified
UPDATE toolkit.ledger SET verified_at = now(), verify_ok = %(ok)s
WHERE phase = %(phase)s AND step = %(step)s;

-- name: history_insert
INSERT INTO toolkit.history (action, phase, step, revision, checksum, actor, toolkit_version, ok, detail)
VALUES (%(action)s, %(phase)s, %(step)s, %(revision)s, %(checksum)s, %(actor)s, %(version)s, %(ok)s, %(detail)s);

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

-- name: catalog_ready
SELECT to_regprocedure('toolkit.catalog_objects()') IS NOT NULL;

-- name: catalog_objects
SELECT classid, objid, identity, digest FROM toolkit.catalog_objects();

-- name: catalog_addresses
-- What toolkit.catalog_objects() covers, by catalog address only: cheap enough to take
-- around every step of a run (the objects a step made are the addresses it added).
WITH ns AS (
    SELECT n.oid FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'toolkit')
      AND n.nspname !~ '^(pg_toast|pg_temp_|pg_toast_temp_|toolkit_archive_)'
), me AS (
    SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = CURRENT_USER
), rel AS (
    SELECT c.oid FROM pg_catalog.pg_class AS c
    WHERE c.relowner = (SELECT oid FROM me) AND c.relnamespace IN (SELECT oid FROM ns)
)
SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, rel.oid FROM rel
UNION ALL
SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid FROM pg_catalog.pg_proc AS p
WHERE p.proowner = (SELECT oid FROM me) AND p.pronamespace IN (SELECT oid FROM ns)
UNION ALL
SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid FROM pg_catalog.pg_type AS t
WHERE t.typowner = (SELECT oid FROM me) AND t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm')
UNION ALL
SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid, k.oid FROM pg_catalog.pg_constraint AS k
WHERE k.conrelid IN (SELECT oid FROM rel)
UNION ALL
SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass::pg_catalog.oid, g.oid FROM pg_catalog.pg_trigger AS g
WHERE g.tgrelid IN (SELECT oid FROM rel) AND NOT g.tgisinternal
UNION ALL
SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass::pg_catalog.oid, y.oid FROM pg_catalog.pg_policy AS y
WHERE y.polrelid IN (SELECT oid FROM rel);
