SELECT toolkit.check(NOT EXISTS (SELECT FROM cron.job AS j WHERE j.jobname = d.legacy_job),
                     pg_catalog.format('the legacy cron job %s of %s is unscheduled', d.legacy_job, d.name))
FROM pg_catalog.jsonb_to_recordset(toolkit.param('data_types')) AS d(name text, legacy_job text);

SELECT toolkit.check(
    pg_catalog.jsonb_typeof(s.snapshot -> 'schedule') = 'string' AND pg_catalog.jsonb_typeof(s.snapshot -> 'command') = 'string',
    pg_catalog.format('toolkit.final_snapshots keeps the removed cron job %s whole', s.snapshot ->> 'jobname'))
FROM toolkit.final_snapshots AS s
WHERE s.step = 'remove_legacy_cron';
