SELECT toolkit.check(to_regclass('public.active_subscriptions{{ suffix }}') IS NOT NULL,
                     'table public.active_subscriptions{{ suffix }} exists');

SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.active_subscriptions{{ suffix }}'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['id bigint not null', 'user_id uuid not null', 'symbol text not null', 'data_types text[] not null',
            'last_seen timestamp with time zone not null', 'created_at timestamp with time zone not null'],
    'public.active_subscriptions{{ suffix }} has columns id, user_id, symbol, data_types, last_seen, created_at');

SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.active_subscriptions{{ suffix }}'::regclass
              AND contype = x.contype AND pg_get_constraintdef(oid) = x.def),
    'public.active_subscriptions{{ suffix }} has ' || x.def)
FROM (VALUES ('p', 'PRIMARY KEY (id)'), ('u', 'UNIQUE (user_id, symbol)')) AS x(contype, def);
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.active_subscriptions{{ suffix }}'::regclass AND contype = 'c'
              AND conname = 'active_subscriptions{{ suffix }}_' || c.name),
    'public.active_subscriptions{{ suffix }} has CHECK constraint active_subscriptions{{ suffix }}_' || c.name)
FROM unnest(ARRAY['symbol_format', 'data_types_nonempty']) AS c(name);
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_index AS i
            WHERE i.indrelid = 'public.active_subscriptions{{ suffix }}'::regclass
              AND pg_get_indexdef(i.indexrelid) LIKE '% USING btree (' || x.col || ')'),
    'public.active_subscriptions{{ suffix }} has an index on (' || x.col || ')')
FROM (VALUES ('last_seen'), ('symbol')) AS x(col);

SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'public.active_subscriptions{{ suffix }}'::regclass),
                     'row-level security is enabled on public.active_subscriptions{{ suffix }}');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_policies
            WHERE schemaname = 'public' AND tablename = 'active_subscriptions{{ suffix }}'
              AND policyname = 'active_subscriptions{{ suffix }}_read_own'
              AND cmd = 'SELECT' AND roles = ARRAY['authenticated']::name[]
              AND qual LIKE '%auth.uid()%'),
    'policy active_subscriptions{{ suffix }}_read_own limits authenticated to its own rows');
SELECT toolkit.check(NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                                 WHERE schemaname = 'public' AND tablename = 'active_subscriptions{{ suffix }}'
                                   AND cmd <> 'SELECT'),
                     'public.active_subscriptions{{ suffix }} has no write policy');
SELECT toolkit.check(has_table_privilege('authenticated', 'public.active_subscriptions{{ suffix }}', 'SELECT'),
                     'authenticated can SELECT public.active_subscriptions{{ suffix }}');
SELECT toolkit.check(NOT has_table_privilege('authenticated', 'public.active_subscriptions{{ suffix }}', 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     'authenticated cannot write public.active_subscriptions{{ suffix }}');
SELECT toolkit.check(NOT has_table_privilege('anon', 'public.active_subscriptions{{ suffix }}', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     'anon has no privilege on public.active_subscriptions{{ suffix }}');
SELECT toolkit.check(NOT has_sequence_privilege(r.role, pg_get_serial_sequence('public.active_subscriptions{{ suffix }}', 'id'), 'USAGE, SELECT, UPDATE'),
                     r.role || ' has no privilege on the sequence of public.active_subscriptions{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);

-- Behaviour: a user sees only its own rows (probe rows rolled back by the sentinel).
DO $$
DECLARE
    v_me      uuid := '00000000-0000-4000-8000-00000000000a';
    v_other   uuid := '00000000-0000-4000-8000-00000000000b';
    v_visible text[];
    v_bad     text;
BEGIN
    BEGIN
        INSERT INTO public.active_subscriptions{{ suffix }} (user_id, symbol, data_types)
        VALUES (v_me, 'TKVRFY1', ARRAY['quote']), (v_other, 'TKVRFY2', ARRAY['quote']);
        BEGIN
            INSERT INTO public.active_subscriptions{{ suffix }} (user_id, symbol, data_types)
            VALUES (v_me, 'bad symbol', ARRAY['quote']);
        EXCEPTION WHEN OTHERS THEN v_bad := SQLSTATE;
        END;
        PERFORM pg_catalog.set_config('request.jwt.claims', pg_catalog.json_build_object('sub', v_me, 'role', 'authenticated')::text, true);
        SET LOCAL ROLE authenticated;
        SELECT array_agg(symbol ORDER BY symbol) INTO v_visible
        FROM public.active_subscriptions{{ suffix }} WHERE symbol LIKE 'TKVRFY%';
        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;
    PERFORM toolkit.check(v_visible IS NOT DISTINCT FROM ARRAY['TKVRFY1'],
                          'authenticated sees only its own rows of public.active_subscriptions{{ suffix }}');
    PERFORM toolkit.check(v_bad = '23514', 'public.active_subscriptions{{ suffix }} rejects a malformed symbol');
END
$$;
