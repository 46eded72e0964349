-- The toolkit's own schema: the apply ledger and the helpers that deploy, verify and
-- revert scripts rely on. Not exposed through the API: no grants to client roles.
CREATE SCHEMA IF NOT EXISTS toolkit;
REVOKE ALL ON SCHEMA toolkit FROM PUBLIC;

-- One row per applied step: what is deployed now.
CREATE TABLE IF NOT EXISTS toolkit.ledger (
    phase           integer     NOT NULL,
    step            text        NOT NULL,
    checksum        text        NOT NULL,
    template_hash   text        NOT NULL,
    applied_by      text        NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    toolkit_version text        NOT NULL,
    duration_ms     integer     NOT NULL,
    verified_at     timestamptz,
    verify_ok       boolean,
    PRIMARY KEY (phase, step)
);

-- Append-only history of every apply, revert and verify, kept when the ledger row goes.
CREATE TABLE IF NOT EXISTS toolkit.history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    action          text        NOT NULL CHECK (action IN ('apply', 'revert', 'verify', 'force')),
    phase           integer     NOT NULL,
    step            text,
    checksum        text,
    actor           text        NOT NULL,
    toolkit_version text        NOT NULL,
    ok              boolean     NOT NULL,
    detail          text
);

-- Tables moved aside by a revert that kept their data.
CREATE TABLE IF NOT EXISTS toolkit.archived_tables (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    original    text        NOT NULL,
    archived_as text        NOT NULL,
    row_count   bigint      NOT NULL
);

-- Values reach scripts as one bind parameter: the engine sets toolkit.params (jsonb) for
-- the transaction, and scripts read it here.
CREATE OR REPLACE FUNCTION toolkit.param(VARIADIC path text[])
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.current_setting('toolkit.params', true)::jsonb OPERATOR(pg_catalog.#>) path
$$;

-- Verify scripts call this: it raises with the message when the condition is not true.
CREATE OR REPLACE FUNCTION toolkit.check(condition boolean, message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF condition IS NOT TRUE THEN
        RAISE EXCEPTION 'verify failed: %', message USING ERRCODE = 'P0001', HINT = 'toolkit-verify';
    END IF;
END
$$;

-- Verify scripts call this for each function that only service_role may call (signature
-- schema-qualified, argument types only): it exists, sets search_path = '', is SECURITY
-- DEFINER (with definer => false: SECURITY INVOKER), and anon and authenticated cannot
-- execute it while service_role can. Supabase's default privileges grant EXECUTE to anon and
-- authenticated by name, so a deploy that forgets to revoke it shows up here. The first
-- fault raises through toolkit.check, naming the function. It reads only the catalog, so it
-- needs no superuser (on Supabase the owner, postgres, is none).
CREATE OR REPLACE FUNCTION toolkit.check_private_function(signature text, definer boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    fn     regprocedure;
    fn_row record;
    client text;
BEGIN
    BEGIN
        fn := pg_catalog.to_regprocedure(signature);
    EXCEPTION WHEN undefined_object THEN
        -- An argument type that does not exist (yet): then neither does the function.
        fn := NULL;
    END;
    PERFORM toolkit.check(fn IS NOT NULL, pg_catalog.format('function %s does not exist', signature));
    SELECT p.prosecdef, p.proconfig INTO fn_row FROM pg_catalog.pg_proc AS p WHERE p.oid = fn;
    PERFORM toolkit.check('search_path=""' = ANY (fn_row.proconfig),
                          pg_catalog.format('%s does not SET search_path = ''''', signature));
    PERFORM toolkit.check(fn_row.prosecdef = definer,
                          pg_catalog.format('%s is %s', signature, CASE WHEN definer
                                            THEN 'SECURITY INVOKER; expected SECURITY DEFINER'
                                            ELSE 'SECURITY DEFINER; expected SECURITY INVOKER' END));
    FOREACH client IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        PERFORM toolkit.check(NOT pg_catalog.has_function_privilege(client, fn, 'EXECUTE'),
                              pg_catalog.format('%s can execute %s; only service_role may', client, signature));
    END LOOP;
    PERFORM toolkit.check(pg_catalog.has_function_privilege('service_role', fn, 'EXECUTE'),
                          pg_catalog.format('service_role cannot execute %s', signature));
END
$$;

-- Revert scripts call this instead of DROP TABLE: an empty table (or any table under
-- --drop-data) is dropped; one holding rows moves, with its partitions, indexes and
-- sequences, to a schema of its own for this revert (toolkit_archive_<time>), so a revert
-- never loses data unless asked to and later reverts never collide with earlier archives.
CREATE OR REPLACE FUNCTION toolkit.retire_table(tbl regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    n        bigint;
    original text := tbl::text;
    archive  text := 'toolkit_archive_' || pg_catalog.to_char(pg_catalog.now(), 'YYYYMMDD_HH24MISS_US');
    part     regclass;
BEGIN
    EXECUTE pg_catalog.format('SELECT count(*) FROM %s', tbl) INTO n;
    IF n = 0 OR COALESCE((toolkit.param('drop_data'))::boolean, false) THEN
        EXECUTE pg_catalog.format('DROP TABLE %s CASCADE', tbl);
        RETURN 'dropped';
    END IF;
    EXECUTE pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', archive);
    EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', archive);
    FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i WHERE i.inhparent = tbl LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA %I', part, archive);
    END LOOP;
    EXECUTE pg_catalog.format('ALTER TABLE %s SET SCHEMA %I', tbl, archive);
    INSERT INTO toolkit.archived_tables (original, archived_as, row_count)
    VALUES (original, pg_catalog.format('%I.%s', archive, pg_catalog.split_part(original, '.', 2)), n);
    RETURN 'archived in ' || archive;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA toolkit FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA toolkit FROM PUBLIC;
