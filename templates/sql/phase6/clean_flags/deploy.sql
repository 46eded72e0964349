-- The per-type flags and the master switch use_queue_system go: nothing consults them after
-- remove_flag_checks. Each is kept first in toolkit.final_snapshots for the revert; the
-- audit trigger writes one last row per removal (operation DELETE, with this reason), and the
-- audit history stays. Flags of the user's own are left alone.
SELECT pg_catalog.set_config('toolkit.reason', 'phase 6: the final migration removes the flag', true);

INSERT INTO toolkit.final_snapshots (step, kind, name, snapshot)
SELECT 'clean_flags', 'flag', f.flag_name, pg_catalog.to_jsonb(f)
FROM public.feature_flags AS f
WHERE f.flag_name = 'use_queue_system'
   OR f.flag_name IN (SELECT d.flag FROM pg_catalog.jsonb_to_recordset(toolkit.param('data_types')) AS d(flag text));

DELETE FROM public.feature_flags AS f
WHERE f.flag_name IN (SELECT s.name FROM toolkit.final_snapshots AS s WHERE s.step = 'clean_flags' AND s.kind = 'flag');

SELECT pg_catalog.set_config('toolkit.reason', '', true);
