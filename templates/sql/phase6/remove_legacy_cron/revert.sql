-- Each legacy job scheduled again as it was when phase 6 removed it (paused, as the
-- migration left it): same name, schedule, command, database and active flag.
SELECT cron.schedule_in_database(s.snapshot ->> 'jobname', s.snapshot ->> 'schedule', s.snapshot ->> 'command',
                                 s.snapshot ->> 'database', nullif(s.snapshot ->> 'username', current_user::text),
                                 (s.snapshot ->> 'active')::boolean)
FROM toolkit.final_snapshots AS s
WHERE s.step = 'remove_legacy_cron' AND s.kind = 'cron_job'
ORDER BY (s.snapshot ->> 'jobid')::bigint;

DELETE FROM toolkit.final_snapshots WHERE step = 'remove_legacy_cron';
