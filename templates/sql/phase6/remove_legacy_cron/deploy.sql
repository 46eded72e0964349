-- Phase 6 templates name the objects through `final`, never `suffix`: they run before and
-- after remove_suffix in one transaction, and render the same on either side of it.
--
-- The legacy app's pg_cron jobs (phases.yaml data_types[].legacy_job) are unscheduled, each
-- kept first as it is now in toolkit.final_snapshots, so that the revert schedules it again
-- exactly (its id changes). Every type was migrated and promoted, so each job is paused
-- already; its state before the migration stays in toolkit.migrations. A job another role
-- owns cannot be unscheduled by a hosted postgres: it is refused before anything changes.
DO $$
DECLARE
    foreign_job record;
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING HINT = 'On Supabase enable it under Database > Extensions; locally install postgresql-15-cron.';
    END IF;
    EXECUTE 'SELECT j.jobid, j.jobname, j.username FROM cron.job AS j
             WHERE j.jobname IN (SELECT d.legacy_job FROM pg_catalog.jsonb_to_recordset(toolkit.param(''data_types'')) AS d(legacy_job text))
               AND j.username <> current_user::text
               AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
             LIMIT 1'
    INTO foreign_job;
    IF foreign_job.jobid IS NOT NULL THEN
        RAISE EXCEPTION 'the legacy cron job % (id %) belongs to %; pg_cron lets only its owner unschedule it',
            foreign_job.jobname, foreign_job.jobid, foreign_job.username
            USING HINT = 'have it re-created as ' || current_user || ' (or unschedule it as its owner), then apply phase 6 again';
    END IF;
END
$$;

INSERT INTO toolkit.final_snapshots (step, kind, name, snapshot)
SELECT 'remove_legacy_cron', 'cron_job', j.jobid::text,
       pg_catalog.jsonb_build_object('jobid', j.jobid, 'jobname', j.jobname, 'schedule', j.schedule, 'command', j.command,
                                     'nodename', j.nodename, 'nodeport', j.nodeport, 'database', j.database,
                                     'username', j.username, 'active', j.active)
FROM cron.job AS j
WHERE j.jobname IN (SELECT d.legacy_job FROM pg_catalog.jsonb_to_recordset(toolkit.param('data_types')) AS d(legacy_job text));

SELECT cron.unschedule(j.jobid)
FROM cron.job AS j
WHERE j.jobname IN (SELECT d.legacy_job FROM pg_catalog.jsonb_to_recordset(toolkit.param('data_types')) AS d(legacy_job text))
ORDER BY j.jobid;
