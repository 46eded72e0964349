-- Toolkit schema version 1: the layout every toolkit wrote before the schema had versions
-- (ledger, history, archived tables, the helpers the step scripts call, checklist runs,
-- per-type migration state). Written with IF NOT EXISTS and OR REPLACE throughout, so that
-- it also completes a schema that an older toolkit left without a version. Later versions
-- are the numbered files after this one; none of them may change once released.

-- Which versions of this schema are installed (toolkit.schema.upgrade reads and writes it).
CREATE SCHEMA IF NOT EXISTS toolkit;
CREATE TABLE IF NOT EXISTS toolkit.schema_version (
    version         integer     PRIMARY KEY,
    name            text        NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    toolkit_version text        NOT NULL
);

-- The apply ledger and the helpers that deploy, verify and revert scripts rely on. Not
-- exposed through the API: no grants to client roles.
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

-- Checklist runs and their answers (toolkit checklist run).

CREATE TABLE IF NOT EXISTS toolkit.checklist_runs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checklist   text        NOT NULL,
    data_type   text,                   -- per-type checklists only
    started_by  text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    result      text        CHECK (result IN ('pass', 'fail', 'incomplete')),
    -- A run has a result exactly when it is finished.
    CONSTRAINT checklist_runs_finished_has_result CHECK ((finished_at IS NULL) = (result IS NULL))
);

-- At most one unfinished run per checklist and type: two people cannot start the same
-- checklist side by side and split its answers between two runs.
CREATE UNIQUE INDEX IF NOT EXISTS checklist_runs_one_unfinished
    ON toolkit.checklist_runs (checklist, coalesce(data_type, ''))
    WHERE finished_at IS NULL;
-- latest_results(): the newest finished run per checklist and type.
CREATE INDEX IF NOT EXISTS checklist_runs_finished_idx
    ON toolkit.checklist_runs (checklist, data_type, finished_at DESC)
    WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS toolkit.checklist_answers (
    run_id      bigint      NOT NULL REFERENCES toolkit.checklist_runs (id) ON DELETE CASCADE,
    item_id     text        NOT NULL,
    result      text        NOT NULL CHECK (result IN ('pass', 'fail', 'skip')),
    note        text,
    evidence    text,                   -- what an automated check saw
    answered_by text        NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, item_id)
);

-- Checks read pg_cron's jobs through this: a plain `FROM cron.job` fails to even parse on a
-- database without pg_cron, and the check must instead report that pg_cron is missing.
CREATE OR REPLACE FUNCTION toolkit.cron_job_state(
    p_jobname text,
    OUT installed boolean, OUT job_found boolean, OUT active boolean, OUT schedule text, OUT command text)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    installed := pg_catalog.to_regclass('cron.job') IS NOT NULL;
    job_found := false;
    IF installed THEN
        EXECUTE 'SELECT true, j.active, j.schedule, j.command FROM cron.job AS j
                 WHERE j.jobname = $1 ORDER BY j.jobid LIMIT 1'
        INTO job_found, active, schedule, command USING p_jobname;
        job_found := coalesce(job_found, false);
    END IF;
END
$$;

-- Freshness of a data type's rows: of p_keys (NULL: every key in the table), how many have
-- no row newer than p_max_age_seconds. A global type (p_key_column NULL) is one key: the
-- whole table. Checks need it because a type's table is a value in the registry, and only
-- dynamic SQL can read a table named by a value.
CREATE OR REPLACE FUNCTION toolkit.stale_keys(
    p_table text, p_key_column text, p_timestamp_column text, p_max_age_seconds double precision, p_keys text[],
    OUT keys bigint, OUT stale bigint)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    ident constant text := '^[a-z_][a-z0-9_]{0,62}$';  -- the registry's own CHECK on names
BEGIN
    IF p_table !~ ident OR p_timestamp_column !~ ident OR p_key_column !~ ident THEN
        RAISE EXCEPTION 'toolkit.stale_keys: %.% / % is not a plain identifier',
            p_table, p_key_column, p_timestamp_column USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_key_column IS NULL THEN
        EXECUTE pg_catalog.format(
            'SELECT 1, CASE WHEN max(t.%1$I) > pg_catalog.now() - pg_catalog.make_interval(secs => $1) THEN 0 ELSE 1 END
             FROM public.%2$I AS t', p_timestamp_column, p_table)
        INTO keys, stale USING p_max_age_seconds;
    ELSIF p_keys IS NULL THEN
        EXECUTE pg_catalog.format(
            'SELECT count(*), count(*) FILTER (WHERE k.last_at <= pg_catalog.now() - pg_catalog.make_interval(secs => $1))
             FROM (SELECT max(t.%1$I) AS last_at FROM public.%2$I AS t GROUP BY t.%3$I) AS k',
            p_timestamp_column, p_table, p_key_column)
        INTO keys, stale USING p_max_age_seconds;
    ELSE
        EXECUTE pg_catalog.format(
            'SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
                 SELECT 1 FROM public.%2$I AS t
                 WHERE t.%3$I = k.key AND t.%1$I > pg_catalog.now() - pg_catalog.make_interval(secs => $1)))
             FROM (SELECT DISTINCT u.key FROM pg_catalog.unnest($2) AS u(key)) AS k',
            p_timestamp_column, p_table, p_key_column)
        INTO keys, stale USING p_max_age_seconds, p_keys;
    END IF;
END
$$;

REVOKE ALL ON TABLE toolkit.checklist_runs, toolkit.checklist_answers FROM PUBLIC;
REVOKE ALL ON FUNCTION toolkit.cron_job_state(text), toolkit.stale_keys(text, text, text, double precision, text[])
    FROM PUBLIC;

-- Per-type migration state (toolkit migrate / monitor / promote / rollback).
CREATE TABLE IF NOT EXISTS toolkit.migrations (
    data_type          text        PRIMARY KEY,
    state              text        NOT NULL
                       -- toolkit.states.MIGRATION_STATES (a test holds the two together).
                       CHECK (state IN ('registered', 'flag_on', 'legacy_disabled', 'baking', 'promoted', 'rolled_back')),
    legacy_snapshot    jsonb,
    registered_at      timestamptz,
    flag_on_at         timestamptz,
    legacy_disabled_at timestamptz,
    bake_started_at    timestamptz,
    promoted_at        timestamptz,
    rolled_back_at     timestamptz,
    note               text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text        NOT NULL
);

CREATE TABLE IF NOT EXISTS toolkit.migration_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    data_type  text        NOT NULL,
    event      text        NOT NULL,
    actor      text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS migration_events_type_at_idx ON toolkit.migration_events (data_type, at);

REVOKE ALL ON ALL TABLES IN SCHEMA toolkit FROM PUBLIC;
