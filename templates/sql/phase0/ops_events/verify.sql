SELECT toolkit.check(to_regclass('public.ops_events') IS NOT NULL, 'table public.ops_events exists');
SELECT toolkit.check_private_function('public.log_ops_event(text, text, text, jsonb)');

SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.ops_events'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['id bigint not null', 'at timestamp with time zone not null', 'source text not null',
            'level text not null', 'event text not null', 'details jsonb not null'],
    'public.ops_events has columns id, at, source, level, event, details');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.ops_events'::regclass AND contype = 'c' AND conname = 'ops_events_level_valid'),
    'public.ops_events has CHECK constraint ops_events_level_valid');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_index AS i
            WHERE i.indrelid = 'public.ops_events'::regclass
              AND pg_get_indexdef(i.indexrelid) LIKE '% USING btree (' || x.cols || ')'),
    'public.ops_events has an index on (' || x.cols || ')')
FROM (VALUES ('at'), ('level, at')) AS x(cols);

SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'public.ops_events'::regclass),
                     'row-level security is enabled on public.ops_events');
SELECT toolkit.check(NOT has_table_privilege(r.role, 'public.ops_events', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     r.role || ' has no privilege on public.ops_events')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);
SELECT toolkit.check(NOT has_sequence_privilege(r.role, pg_get_serial_sequence('public.ops_events', 'id'), 'USAGE, SELECT, UPDATE'),
                     r.role || ' has no privilege on the sequence of public.ops_events')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);

-- Behaviour, rolled back by the sentinel exception so verify leaves no event behind.
DO $$
DECLARE
    v_id        bigint;
    v_row       record;
    v_bad_level text;
BEGIN
    BEGIN
        v_id := public.log_ops_event('toolkit-verify', 'info', 'verify_probe', NULL);
        SELECT * INTO v_row FROM public.ops_events WHERE id = v_id;
        BEGIN
            PERFORM public.log_ops_event('toolkit-verify', 'fatal', 'verify_probe', '{}'::jsonb);
        EXCEPTION WHEN OTHERS THEN v_bad_level := SQLSTATE;
        END;
        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;
    PERFORM toolkit.check(v_row.source = 'toolkit-verify' AND v_row.level = 'info'
                          AND v_row.details = '{}'::jsonb AND v_row.at IS NOT NULL,
                          'public.log_ops_event() stores an event and returns its id');
    PERFORM toolkit.check(v_bad_level = '23514', 'public.ops_events rejects an unknown level');
END
$$;
