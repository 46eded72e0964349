SELECT toolkit.check(NOT EXISTS (SELECT FROM public.feature_flags AS f WHERE f.flag_name = x.flag),
                     pg_catalog.format('flag %s is removed', x.flag))
FROM (SELECT 'use_queue_system' AS flag
      UNION SELECT d.flag FROM pg_catalog.jsonb_to_recordset(toolkit.param('data_types')) AS d(flag text)) AS x;

-- Each removal has its audit row, and the history before it is kept.
SELECT toolkit.check(
    EXISTS (SELECT FROM public.feature_flag_audit AS a
            WHERE a.flag_name = s.name AND a.operation = 'DELETE' AND a.at >= s.taken_at),
    pg_catalog.format('the removal of flag %s is audited', s.name))
FROM toolkit.final_snapshots AS s
WHERE s.step = 'clean_flags' AND s.kind = 'flag';
