SELECT cron.unschedule(j.jobid)
FROM cron.job AS j
WHERE pg_catalog.to_regnamespace('cron') IS NOT NULL
  AND j.jobname IN ('queue-presence-check{{ suffix }}', 'queue-presence-analytics{{ suffix }}', 'queue-scheduled-refresh{{ suffix }}',
                    'queue-recover-stuck{{ suffix }}', 'queue-maintenance{{ suffix }}', 'queue-processor{{ suffix }}');
