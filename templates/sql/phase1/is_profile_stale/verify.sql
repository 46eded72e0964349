SELECT toolkit.check_private_function('public.is_profile_stale{{ suffix }}(timestamptz, integer, boolean)', definer => false);
-- It calls is_data_stale{{ suffix }} at run time; plpgsql records no dependency, so check it here.
SELECT toolkit.check(to_regprocedure('public.is_data_stale{{ suffix }}(timestamptz,integer)') IS NOT NULL,
                     'function public.is_data_stale{{ suffix }}(timestamptz, integer), used by public.is_profile_stale{{ suffix }}, exists');

SELECT toolkit.check(p.pronargdefaults = 0,
                     'public.is_profile_stale{{ suffix }}() has no parameter defaults')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_profile_stale{{ suffix }}(timestamptz,integer,boolean)'::regprocedure;
SELECT toolkit.check(p.provolatile = 's' AND p.prorettype = 'boolean'::regtype,
                     'public.is_profile_stale{{ suffix }}() is STABLE and returns boolean')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_profile_stale{{ suffix }}(timestamptz,integer,boolean)'::regprocedure;
SELECT toolkit.check(
    (SELECT count(*) FROM pg_catalog.pg_proc
     WHERE proname = 'is_profile_stale{{ suffix }}' AND pronamespace = 'public'::regnamespace) = 1,
    'public.is_profile_stale{{ suffix }} has exactly one signature');

SELECT toolkit.check(
    public.is_profile_stale{{ suffix }}(c.last_updated, 86400, c.has_core) IS NOT DISTINCT FROM c.expected,
    'public.is_profile_stale{{ suffix }}() returns ' || c.expected || ' for ' || c.label)
FROM (VALUES
    ('a fresh profile with core fields',      now() - interval '1 hour', true,          false),
    ('a fresh profile without core fields',   now() - interval '1 hour', false,         true),
    ('a fresh profile with unknown core fields', now() - interval '1 hour', NULL::boolean, true),
    ('an old profile with core fields',       now() - interval '2 days', true,          true),
    ('a never-fetched profile',               NULL::timestamptz,         true,          true)
) AS c(label, last_updated, has_core, expected);

DO $$
DECLARE
    v_case  record;
    v_state text;
BEGIN
    FOR v_case IN
        SELECT * FROM (VALUES (NULL::integer, true), (0, true), (-1, true), (0, false)) AS c(ttl, has_core)
    LOOP
        v_state := NULL;
        BEGIN
            PERFORM public.is_profile_stale{{ suffix }}(now(), v_case.ttl, v_case.has_core);
        EXCEPTION WHEN OTHERS THEN v_state := SQLSTATE;
        END;
        PERFORM toolkit.check(v_state = '22023',
            pg_catalog.format('public.is_profile_stale{{ suffix }}(now(), %s, %s) raises SQLSTATE 22023 (got %s)',
                              coalesce(v_case.ttl::text, 'NULL'), v_case.has_core, coalesce(v_state, 'no error')));
    END LOOP;
END
$$;
