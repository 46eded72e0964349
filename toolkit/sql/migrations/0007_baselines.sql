-- Toolkit schema version 7: baselines of the system before the rollout (toolkit baseline
-- capture). Not exposed through the API.
CREATE TABLE toolkit.baselines (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    captured_at     timestamptz NOT NULL,
    captured_by     text        NOT NULL,
    toolkit_version text        NOT NULL,
    jobs            jsonb       NOT NULL,   -- every pg_cron job: schedule, owner, active, last runs and failures
    tables          jsonb       NOT NULL,   -- every data table of the plan: rows, keys, size, freshness
    implied         jsonb       NOT NULL    -- per data type: the runs, calls and bytes its legacy schedule implies
);

REVOKE ALL ON TABLE toolkit.baselines FROM PUBLIC;
