SELECT toolkit.check(to_regclass('public.api_call_queue{{ suffix }}') IS NOT NULL,
                     'table public.api_call_queue{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.api_call_queue{{ suffix }}_' || s.status) IS NOT NULL,
                     'partition public.api_call_queue{{ suffix }}_' || s.status || ' exists')
FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed']) AS s(status);

SELECT toolkit.check(
    (SELECT relkind FROM pg_catalog.pg_class WHERE oid = 'public.api_call_queue{{ suffix }}'::regclass) = 'p'
    AND pg_get_partkeydef('public.api_call_queue{{ suffix }}'::regclass) = 'LIST (status)',
    'public.api_call_queue{{ suffix }} is partitioned BY LIST (status)');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_inherits AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'public.api_call_queue{{ suffix }}'::regclass
              AND c.oid = ('public.api_call_queue{{ suffix }}_' || s.status)::regclass
              AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES IN (''' || s.status || ''')'),
    'public.api_call_queue{{ suffix }}_' || s.status || ' is the partition FOR VALUES IN (''' || s.status || ''')')
FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed']) AS s(status);
-- Only those four (no DEFAULT partition): they are what keeps any other status out.
SELECT toolkit.check(
    (SELECT count(*) FROM pg_catalog.pg_inherits
     WHERE inhparent = 'public.api_call_queue{{ suffix }}'::regclass) = 4,
    'public.api_call_queue{{ suffix }} has no partition besides the four statuses');
SELECT toolkit.check(
    (SELECT 'fillfactor=70' = ANY (reloptions) FROM pg_catalog.pg_class
     WHERE oid = ('public.api_call_queue{{ suffix }}_' || s.status)::regclass),
    'public.api_call_queue{{ suffix }}_' || s.status || ' has fillfactor = 70')
FROM unnest(ARRAY['pending', 'processing', 'completed', 'failed']) AS s(status);

SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.api_call_queue{{ suffix }}'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['id bigint not null', 'symbol text not null', 'data_type text not null', 'priority integer not null',
            'status text not null', 'attempts integer not null', 'max_attempts integer not null',
            'scheduled_for timestamp with time zone not null', 'created_at timestamp with time zone not null',
            'started_at timestamp with time zone', 'finished_at timestamp with time zone', 'worker_id text',
            'estimated_bytes bigint', 'actual_bytes bigint', 'last_error text', 'lease bigint'],
    'public.api_call_queue{{ suffix }} has the expected columns (id ... lease)');
SELECT toolkit.check(to_regclass('public.api_call_queue{{ suffix }}_lease_seq') IS NOT NULL,
                     'sequence public.api_call_queue{{ suffix }}_lease_seq (the claims'' leases) exists');
SELECT toolkit.check(
    (SELECT attidentity FROM pg_catalog.pg_attribute
     WHERE attrelid = 'public.api_call_queue{{ suffix }}'::regclass AND attname = 'id') = 'a',
    'public.api_call_queue{{ suffix }}.id is GENERATED ALWAYS AS IDENTITY');
SELECT toolkit.check(
    NOT EXISTS (SELECT FROM pg_catalog.pg_index
                WHERE indrelid = 'public.api_call_queue{{ suffix }}_completed'::regclass
                  AND pg_get_indexdef(indexrelid) LIKE '% USING btree (id%'),
    'public.api_call_queue{{ suffix }}_completed has no index on id (each one slows every completion)');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.api_call_queue{{ suffix }}'::regclass AND contype = 'c'
              AND conname = 'api_call_queue{{ suffix }}_' || c.name),
    'public.api_call_queue{{ suffix }} has CHECK constraint api_call_queue{{ suffix }}_' || c.name)
FROM unnest(ARRAY['attempts_nonnegative', 'max_attempts_positive']) AS c(name);

-- Indexes by shape, not by name.
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_index AS i
            WHERE i.indrelid = ('public.api_call_queue{{ suffix }}_' || x.part)::regclass
              AND i.indisunique = x.is_unique AND i.indpred IS NULL
              AND pg_get_indexdef(i.indexrelid) LIKE '% USING btree (' || x.cols || ')'),
    'public.api_call_queue{{ suffix }}_' || x.part || CASE WHEN x.is_unique THEN ' has a unique index' ELSE ' has an index' END
        || ' on (' || x.cols || ')')
FROM (VALUES
    ('pending',    false, 'priority DESC, scheduled_for, id'),
    ('pending',    true,  'symbol, data_type'),
    ('pending',    true,  'id'),
    ('processing', true,  'id'),
    ('completed',  false, 'finished_at'),
    ('failed',     false, 'finished_at'),
    ('failed',     true,  'id')
) AS x(part, is_unique, cols);
SELECT toolkit.check(
    (SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = 'public.api_call_queue{{ suffix }}_processing'::regclass) = 1,
    'public.api_call_queue{{ suffix }}_processing has no index besides the one on id (each one slows every claim)');

-- Row-level security and privileges on the parent and on every partition.
SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = t.name::regclass),
                     'row-level security is enabled on ' || t.name)
FROM unnest(ARRAY['public.api_call_queue{{ suffix }}', 'public.api_call_queue{{ suffix }}_pending',
                  'public.api_call_queue{{ suffix }}_processing', 'public.api_call_queue{{ suffix }}_completed',
                  'public.api_call_queue{{ suffix }}_failed']) AS t(name);
SELECT toolkit.check(NOT has_table_privilege(r.role, t.name, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     r.role || ' has no privilege on ' || t.name)
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role),
     unnest(ARRAY['public.api_call_queue{{ suffix }}', 'public.api_call_queue{{ suffix }}_pending',
                  'public.api_call_queue{{ suffix }}_processing', 'public.api_call_queue{{ suffix }}_completed',
                  'public.api_call_queue{{ suffix }}_failed']) AS t(name);
SELECT toolkit.check(NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                                 WHERE schemaname = 'public' AND tablename LIKE 'api\_call\_queue{{ suffix }}%'),
                     'public.api_call_queue{{ suffix }} and its partitions have no policies');
SELECT toolkit.check(NOT has_sequence_privilege(r.role, pg_get_serial_sequence('public.api_call_queue{{ suffix }}', 'id'), 'USAGE, SELECT, UPDATE'),
                     r.role || ' has no privilege on the sequence of public.api_call_queue{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);
SELECT toolkit.check(NOT has_sequence_privilege(r.role, 'public.api_call_queue{{ suffix }}_lease_seq', 'USAGE, SELECT, UPDATE'),
                     r.role || ' has no privilege on public.api_call_queue{{ suffix }}_lease_seq')
FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role);

-- Behaviour (rolled back by the sentinel): enqueue is idempotent through the parent and a
-- status change moves the row to the matching partition.
DO $$
DECLARE
    v_inserted  integer;
    v_dupes     integer;
    v_moved     boolean;
BEGIN
    BEGIN
        INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type) VALUES ('TKVRFY', 'toolkit-verify')
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
        INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type) VALUES ('TKVRFY', 'toolkit-verify')
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_dupes = ROW_COUNT;
        UPDATE public.api_call_queue{{ suffix }} SET status = 'processing', started_at = now()
        WHERE symbol = 'TKVRFY' AND data_type = 'toolkit-verify';
        SELECT tableoid = 'public.api_call_queue{{ suffix }}_processing'::regclass INTO v_moved
        FROM public.api_call_queue{{ suffix }}
        WHERE symbol = 'TKVRFY' AND data_type = 'toolkit-verify';
        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;
    PERFORM toolkit.check(v_inserted = 1 AND v_dupes = 0,
                          'public.api_call_queue{{ suffix }} keeps one pending job per symbol and data type');
    PERFORM toolkit.check(v_moved IS TRUE,
                          'a status change moves a job to partition api_call_queue{{ suffix }}_processing');
END
$$;
