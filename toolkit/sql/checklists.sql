-- Checklist runs and their answers (toolkit checklist run), in the toolkit schema: not
-- exposed through the API, no grants to client roles. Run by ledger.install(); idempotent.
CREATE SCHEMA IF NOT EXISTS toolkit;

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
    -- inconclusive: a check that had too little data to judge
    result      text        NOT NULL CONSTRAINT checklist_answers_result_check
                            CHECK (result IN ('pass', 'fail', 'skip', 'inconclusive')),
    note        text,
    evidence    text,                   -- what an automated check saw
    answered_by text        NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, item_id)
);

-- A schema made by an earlier toolkit has the CHECK without 'inconclusive': widened once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                   WHERE conrelid = 'toolkit.checklist_answers'::regclass AND conname = 'checklist_answers_result_check'
                     AND pg_catalog.pg_get_constraintdef(oid) LIKE '%inconclusive%') THEN
        ALTER TABLE toolkit.checklist_answers DROP CONSTRAINT IF EXISTS checklist_answers_result_check;
        ALTER TABLE toolkit.checklist_answers ADD CONSTRAINT checklist_answers_result_check
            CHECK (result IN ('pass', 'fail', 'skip', 'inconclusive'));
    END IF;
END
$$;

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
