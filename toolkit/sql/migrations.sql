-- Per-type migration state (toolkit migrate / monitor / promote / rollback), in the toolkit
-- schema: not exposed through the API.
CREATE TABLE IF NOT EXISTS toolkit.migrations (
    data_type          text        PRIMARY KEY,
    state              text        NOT NULL
                       -- The states are toolkit.states.MIGRATION_STATES, filled in by ledger.install().
                       CHECK (state IN ({states})),
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
    detail     jsonb       NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS migration_events_type_at_idx ON toolkit.migration_events (data_type, at);

REVOKE ALL ON ALL TABLES IN SCHEMA toolkit FROM PUBLIC;
