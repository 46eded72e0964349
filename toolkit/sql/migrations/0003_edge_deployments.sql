-- Toolkit schema version 3: the Edge Functions each step deployed (or that the local gateway
-- serves). Not exposed through the API, no grants to client roles. One row per function and
-- place: it says exactly what is deployed there now (a failed deploy leaves the row of what
-- the project still runs).

CREATE TABLE toolkit.edge_deployments (
    -- The project ref, or 'local' for the local gateway (which serves the templates as they are).
    place           text        NOT NULL CHECK (place = 'local' OR place ~ '^[a-z]{20}$'),
    slug            text        NOT NULL CHECK (slug ~ '^[A-Za-z][A-Za-z0-9_-]*$'),
    phase           integer     NOT NULL,
    step            text        NOT NULL,
    version         integer,                -- the platform's version; none locally
    content_hash    text        NOT NULL,   -- toolkit.edge.Bundle.content_hash of what was sent
    verify_jwt      boolean     NOT NULL,
    deployed_by     text        NOT NULL,
    deployed_at     timestamptz NOT NULL DEFAULT now(),
    toolkit_version text        NOT NULL,
    verified_at     timestamptz,
    verify_ok       boolean,
    verify_message  text,
    PRIMARY KEY (place, slug)
);

REVOKE ALL ON toolkit.edge_deployments FROM PUBLIC;
