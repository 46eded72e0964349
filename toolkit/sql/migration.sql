-- Queries of the per-type migration. {placeholders} are identifiers carrying the suffix.

-- name: states
SELECT data_type, state, legacy_snapshot, registered_at, flag_on_at, legacy_disabled_at, bake_started_at,
       promoted_at, rolled_back_at, note, updated_at, updated_by
FROM toolkit.migrations ORDER BY data_type;

-- name: promoted
SELECT data_type FROM toolkit.migrations WHERE state = 'promoted';

-- name: migration_session
SELECT set_config('lock_timeout', %(lock_timeout)s, true);

-- name: lock_migrations
SELECT pg_advisory_xact_lock(%(key)s);

-- name: migration_state
SELECT state, legacy_snapshot, bake_started_at FROM toolkit.migrations WHERE data_type = %(data_type)s;

-- name: set_state
INSERT INTO toolkit.migrations AS m (data_type, state, updated_by)
VALUES (%(data_type)s, %(state)s, %(actor)s)
ON CONFLICT (data_type) DO UPDATE SET state = excluded.state, updated_at = now(), updated_by = excluded.updated_by;

-- name: stamp
UPDATE toolkit.migrations SET {column} = now(), note = %(note)s WHERE data_type = %(data_type)s;

-- name: restart
UPDATE toolkit.migrations
SET registered_at = NULL, flag_on_at = NULL, legacy_disabled_at = NULL, bake_started_at = NULL,
    promoted_at = NULL, rolled_back_at = NULL, note = NULL
WHERE data_type = %(data_type)s;

-- name: save_snapshot
UPDATE toolkit.migrations SET legacy_snapshot = %(snapshot)s WHERE data_type = %(data_type)s;

-- name: event
INSERT INTO toolkit.migration_events (data_type, event, actor, detail)
VALUES (%(data_type)s, %(event)s, %(actor)s, %(detail)s);

-- name: events
SELECT at, event, actor, detail FROM toolkit.migration_events
WHERE data_type = %(data_type)s ORDER BY at DESC, id DESC LIMIT %(limit)s;

-- name: register
INSERT INTO public.{registry} (data_type, target_table, key_column, timestamp_column, ttl_seconds, priority,
                               estimated_bytes, refresh_strategy, endpoints, feature_flag, legacy_job)
VALUES (%(name)s, %(table)s, %(key_column)s, %(timestamp_column)s, %(ttl_seconds)s, %(priority)s,
        %(estimated_bytes)s, %(strategy)s, %(endpoints)s, %(flag)s, %(legacy_job)s)
ON CONFLICT (data_type) DO NOTHING;

-- name: registered_table
-- Where the registry row (new, or there before) says the type's data is kept.
SELECT target_table, key_column, timestamp_column FROM public.{registry} WHERE data_type = %(name)s;

-- name: jobs_named
-- cron.job is read-only for a hosted project's postgres: jobs are read here and changed only
-- through pg_cron's functions, which let a non-superuser change the jobs it owns and no other.
SELECT j.jobid, j.jobname, j.schedule, j.command, j.nodename, j.nodeport, j.database, j.username, j.active,
       j.username = current_user::text OR r.rolsuper AS changeable, current_user::text AS caller
FROM cron.job AS j
CROSS JOIN (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS r
WHERE j.jobname = %(name)s
ORDER BY j.jobid;

-- name: job_by_id
SELECT jobid, jobname, schedule, command, nodename, nodeport, database, username, active
FROM cron.job WHERE jobid = %(jobid)s;

-- name: deactivate
SELECT cron.alter_job(%(jobid)s, active := false);

-- name: restore_job
-- Only a superuser may name a job's owner; for the caller's own job the owner stays as it is.
SELECT cron.alter_job(%(jobid)s, schedule := %(schedule)s, command := %(command)s, database := %(database)s,
                      username := nullif(%(username)s::text, current_user::text), active := %(active)s);

-- name: recreate_job
-- Scheduled again in the caller's name (a superuser's: in the snapshot owner's name).
SELECT cron.schedule_in_database(%(jobname)s, %(schedule)s, %(command)s, %(database)s,
                                 nullif(%(username)s::text, current_user::text), %(active)s);

-- name: monitor_jobs
SELECT (SELECT count(*) FROM public.{pending} WHERE data_type = %(data_type)s) AS queue_depth,
       (SELECT count(*) FROM public.{completed}
        WHERE data_type = %(data_type)s AND finished_at > now() - make_interval(mins => %(window)s)) AS completed,
       (SELECT count(*) FROM public.{failed}
        WHERE data_type = %(data_type)s AND finished_at > now() - make_interval(mins => %(window)s)) AS failed,
       (SELECT count(*) FROM public.ops_events
        WHERE level IN ('warning', 'error') AND at > now() - make_interval(mins => %(window)s)
          AND details ->> 'data_type' = %(data_type)s) AS logged_errors;

-- name: monitor_freshness
-- Of the keys users are viewing now (every key of a scheduled type, the one "key" of a global
-- type: its whole table), how many have no row within the type's TTL.
SELECT f.keys AS viewed, f.stale
FROM toolkit.stale_keys(%(table)s, %(key_column)s, %(timestamp_column)s, %(ttl)s,
                        CASE WHEN %(scheduled)s THEN NULL ELSE coalesce((
                            SELECT array_agg(DISTINCT s.symbol) FROM public.{subscriptions} AS s
                            WHERE %(data_type)s = ANY (s.data_types)
                              AND s.last_seen > now() - make_interval(secs => %(subscription_ttl)s)),
                            ARRAY[]::text[]) END) AS f;
