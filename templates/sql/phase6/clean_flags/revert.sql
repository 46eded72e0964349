-- The removed flags come back as they were (the audit trigger records each return).
SELECT pg_catalog.set_config('toolkit.reason', 'revert of phase 6: the flag is restored', true);

INSERT INTO public.feature_flags (flag_name, enabled, description)
SELECT s.snapshot ->> 'flag_name', (s.snapshot ->> 'enabled')::boolean, s.snapshot ->> 'description'
FROM toolkit.final_snapshots AS s
WHERE s.step = 'clean_flags' AND s.kind = 'flag'
ON CONFLICT (flag_name) DO NOTHING;

DELETE FROM toolkit.final_snapshots WHERE step = 'clean_flags';
SELECT pg_catalog.set_config('toolkit.reason', '', true);
