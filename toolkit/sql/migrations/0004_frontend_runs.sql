-- Toolkit schema version 4: the frontend module's test runs (a `frontend` step's apply). Not
-- exposed through the API, no grants to client roles. What the phase 4 checklists' automated
-- items read as their evidence.

CREATE TABLE toolkit.frontend_runs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    phase       integer     NOT NULL,
    module      text        NOT NULL,   -- the module's file, e.g. RealtimeStockManager.ts
    checksum    text        NOT NULL,   -- of the module rendered for the plan (the ledger's)
    ok          boolean     NOT NULL,
    passed      integer     NOT NULL,
    failed      integer     NOT NULL,
    seconds     numeric     NOT NULL,
    detail      text        NOT NULL    -- how it ran: the client, the stack, the test plan
);

CREATE TABLE toolkit.frontend_tests (
    run_id      bigint      NOT NULL REFERENCES toolkit.frontend_runs (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    area        text        NOT NULL,   -- the test name's prefix: presence, flag, existing realtime, ...
    ok          boolean     NOT NULL,
    seconds     numeric     NOT NULL,
    message     text        NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, name)
);

REVOKE ALL ON TABLE toolkit.frontend_runs, toolkit.frontend_tests FROM PUBLIC;
