SELECT toolkit.check(to_regclass('public.data_type_registry{{ suffix }}') IS NOT NULL,
                     'table public.data_type_registry{{ suffix }} exists');

SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.data_type_registry{{ suffix }}'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['data_type text not null', 'target_table text not null', 'key_column text',
            'timestamp_column text not null', 'ttl_seconds integer not null', 'priority integer not null',
            'estimated_bytes bigint not null', 'refresh_strategy text not null', 'endpoints text[] not null',
            'feature_flag text', 'legacy_job text', 'updated_at timestamp with time zone not null',
            'learned_bytes bigint', 'learned_at timestamp with time zone'],
    'public.data_type_registry{{ suffix }} has the expected columns (data_type ... learned_at)');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.data_type_registry{{ suffix }}'::regclass AND contype = 'p'
              AND pg_get_constraintdef(oid) = 'PRIMARY KEY (data_type)'),
    'public.data_type_registry{{ suffix }} has PRIMARY KEY (data_type)');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.data_type_registry{{ suffix }}'::regclass AND contype = 'c'
              AND conname = 'data_type_registry{{ suffix }}_' || c.name),
    'public.data_type_registry{{ suffix }} has CHECK constraint data_type_registry{{ suffix }}_' || c.name)
FROM unnest(ARRAY['ttl_positive', 'estimated_bytes_nonnegative', 'refresh_strategy_valid', 'endpoints_valid',
                  'data_type_format', 'target_table_format', 'key_column_format',
                  'timestamp_column_format', 'learned_bytes_nonnegative']) AS c(name);

SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'public.data_type_registry{{ suffix }}'::regclass),
                     'row-level security is enabled on public.data_type_registry{{ suffix }}');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_policies
            WHERE schemaname = 'public' AND tablename = 'data_type_registry{{ suffix }}'
              AND policyname = 'data_type_registry{{ suffix }}_read'
              AND cmd = 'SELECT' AND roles @> ARRAY['anon', 'authenticated']::name[]),
    'policy data_type_registry{{ suffix }}_read lets anon and authenticated read public.data_type_registry{{ suffix }}');
SELECT toolkit.check(has_table_privilege(r.role, 'public.data_type_registry{{ suffix }}', 'SELECT'),
                     r.role || ' can SELECT public.data_type_registry{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role);
SELECT toolkit.check(NOT has_table_privilege(r.role, 'public.data_type_registry{{ suffix }}', 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     r.role || ' cannot write public.data_type_registry{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role);

-- The TTL constraint really bites (rolled back by the sentinel exception).
DO $$
DECLARE
    v_state text;
BEGIN
    BEGIN
        BEGIN
            INSERT INTO public.data_type_registry{{ suffix }}
                (data_type, target_table, timestamp_column, ttl_seconds, priority, estimated_bytes, endpoints)
            VALUES ('toolkit-verify-probe', 'toolkit_verify_probe', 'updated_at', 0, 0, 0, ARRAY['probe']);
        EXCEPTION WHEN OTHERS THEN v_state := SQLSTATE;
        END;
        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;
    PERFORM toolkit.check(v_state = '23514', 'public.data_type_registry{{ suffix }} rejects ttl_seconds = 0');
END
$$;

-- Every row reads its data from one of the plan's data tables: the staleness functions read the
-- table a row names, and the plan's data tables are the app's, never the rollout's own.
SELECT toolkit.check(
    count(*) = 0,
    'public.data_type_registry{{ suffix }} rows whose target is not one of the plan''s data tables: '
        || coalesce(string_agg(r.data_type || ' -> ' || r.target_table, ', ' ORDER BY r.data_type), ''))
FROM public.data_type_registry{{ suffix }} AS r
WHERE r.target_table NOT IN (
    SELECT d."table" FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb)) AS d("table" text));

-- Every configured data type is registered with the configured values. The learned size
-- estimate is runtime state and not compared: traffic changes it (`toolkit queue status` shows it).
SELECT toolkit.check(
    count(*) = 0,
    'public.data_type_registry{{ suffix }} matches the configured data types; missing or different: '
        || coalesce(string_agg(d.name, ', ' ORDER BY d.name), ''))
FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb))
     AS d(name text, "table" text, key_column text, timestamp_column text, ttl_seconds integer,
          priority integer, estimated_bytes bigint, strategy text, endpoints text[], flag text,
          legacy_job text)
WHERE NOT EXISTS (
    SELECT FROM public.data_type_registry{{ suffix }} AS r
    WHERE r.data_type = d.name
      AND (r.target_table, r.key_column, r.timestamp_column, r.ttl_seconds, r.priority,
           r.estimated_bytes, r.refresh_strategy, r.endpoints, r.feature_flag, r.legacy_job)
          IS NOT DISTINCT FROM
          (d."table", d.key_column, d.timestamp_column, d.ttl_seconds, d.priority,
           d.estimated_bytes, d.strategy, d.endpoints, d.flag, d.legacy_job));
