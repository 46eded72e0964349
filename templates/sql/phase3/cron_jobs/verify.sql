SELECT toolkit.check(
    EXISTS (SELECT 1 FROM cron.job AS j WHERE j.jobname = e.name AND j.schedule = toolkit.param('settings', 'schedules') ->> e.schedule
            AND j.command = e.command AND j.active),
    pg_catalog.format('cron job %s is scheduled at %s', e.name, toolkit.param('settings', 'schedules') ->> e.schedule))
FROM {% include 'phase3/cron_jobs/jobs.sql.j2' %} AS e(name, schedule, command);
