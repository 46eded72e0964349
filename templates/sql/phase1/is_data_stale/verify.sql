SELECT toolkit.check_private_function('public.is_data_stale{{ suffix }}(timestamptz, integer)', definer => false);

SELECT toolkit.check(p.pronargdefaults = 0,
                     'public.is_data_stale{{ suffix }}() has no parameter defaults (the registry is the only TTL source)')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_data_stale{{ suffix }}(timestamptz,integer)'::regprocedure;
SELECT toolkit.check(p.provolatile = 's' AND p.prorettype = 'boolean'::regtype,
                     'public.is_data_stale{{ suffix }}() is STABLE and returns boolean')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_data_stale{{ suffix }}(timestamptz,integer)'::regprocedure;
-- No other overload that could be picked instead (e.g. a leftover with defaults).
SELECT toolkit.check(
    (SELECT count(*) FROM pg_catalog.pg_proc
     WHERE proname = 'is_data_stale{{ suffix }}' AND pronamespace = 'public'::regnamespace) = 1,
    'public.is_data_stale{{ suffix }} has exactly one signature');

SELECT toolkit.check(
    public.is_data_stale{{ suffix }}(c.last_updated, c.ttl) IS NOT DISTINCT FROM c.expected,
    'public.is_data_stale{{ suffix }}() returns ' || c.expected || ' for ' || c.label)
FROM (VALUES
    ('a value updated 10 s ago with ttl 60',   now() - interval '10 seconds', 60,    false),
    ('a value updated 2 min ago with ttl 60',  now() - interval '2 minutes',  60,    true),
    ('a value updated exactly ttl ago',        now() - interval '60 seconds', 60,    true),
    ('a value updated 1 h ago with ttl 86400', now() - interval '1 hour',     86400, false),
    ('a value in the future',                  now() + interval '1 hour',     60,    false),
    ('a NULL last_updated',                    NULL::timestamptz,             60,    true)
) AS c(label, last_updated, ttl, expected);

-- TTL validation: NULL, 0 and negative TTLs raise 22023, even when last_updated is NULL.
DO $$
DECLARE
    v_case  record;
    v_state text;
BEGIN
    FOR v_case IN
        SELECT * FROM (VALUES (NULL::integer, now()), (0, now()), (-1, now()), (NULL::integer, NULL::timestamptz))
                      AS c(ttl, last_updated)
    LOOP
        v_state := NULL;
        BEGIN
            PERFORM public.is_data_stale{{ suffix }}(v_case.last_updated, v_case.ttl);
        EXCEPTION WHEN OTHERS THEN v_state := SQLSTATE;
        END;
        PERFORM toolkit.check(v_state = '22023',
            pg_catalog.format('public.is_data_stale{{ suffix }}(%s, %s) raises SQLSTATE 22023 (got %s)',
                              coalesce(v_case.last_updated::text, 'NULL'), coalesce(v_case.ttl::text, 'NULL'),
                              coalesce(v_state, 'no error')));
    END LOOP;
END
$$;
