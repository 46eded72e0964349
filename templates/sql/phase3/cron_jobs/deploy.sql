-- The system's pg_cron jobs, named so that deploys are idempotent (cron.schedule with an
-- existing name updates it) and revert removes exactly these. Schedules come from
-- phases.yaml. In postgres scheduler mode pg_cron also invokes the processor through
-- pg_net; in external mode the external ticker does.
DO $$
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING HINT = 'On Supabase enable it under Database > Extensions; locally install postgresql-15-cron.';
    END IF;
END
$$;
SELECT cron.schedule(j.name, toolkit.param('settings', 'schedules') ->> j.schedule, j.command)
FROM {% include 'phase3/cron_jobs/jobs.sql.j2' %} AS j(name, schedule, command);
