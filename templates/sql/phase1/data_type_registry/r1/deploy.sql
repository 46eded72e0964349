-- The registry is the single source of truth for every data type's TTL, priority and cost:
-- staleness checks, the queue and quota predictions all read it, never a literal.
-- Names it stores are later spliced into dynamic SQL (always through format('%I')), so the
-- CHECKs keep them plain lowercase identifiers as a second line of defence.

CREATE TABLE public.data_type_registry{{ suffix }} (
    data_type        text        PRIMARY KEY
                                 CONSTRAINT data_type_registry{{ suffix }}_data_type_format
                                 CHECK (data_type ~ '^[a-z][a-z0-9-]{0,62}$'),
    target_table     text        NOT NULL
                                 CONSTRAINT data_type_registry{{ suffix }}_target_table_format
                                 CHECK (target_table ~ '^[a-z_][a-z0-9_]{0,62}$'),
    key_column       text        -- NULL: one global row set, not keyed by symbol or exchange
                                 CONSTRAINT data_type_registry{{ suffix }}_key_column_format
                                 CHECK (key_column ~ '^[a-z_][a-z0-9_]{0,62}$'),
    timestamp_column text        NOT NULL
                                 CONSTRAINT data_type_registry{{ suffix }}_timestamp_column_format
                                 CHECK (timestamp_column ~ '^[a-z_][a-z0-9_]{0,62}$'),
    ttl_seconds      integer     NOT NULL
                                 CONSTRAINT data_type_registry{{ suffix }}_ttl_positive
                                 CHECK (ttl_seconds > 0),
    priority         integer     NOT NULL,
    estimated_bytes  bigint      NOT NULL
                                 CONSTRAINT data_type_registry{{ suffix }}_estimated_bytes_nonnegative
                                 CHECK (estimated_bytes >= 0),
    refresh_strategy text        NOT NULL DEFAULT 'on-demand'
                                 CONSTRAINT data_type_registry{{ suffix }}_refresh_strategy_valid
                                 CHECK (refresh_strategy IN ('on-demand', 'scheduled')),
    endpoints        text[]      NOT NULL
                                 CONSTRAINT data_type_registry{{ suffix }}_endpoints_valid
                                 CHECK (cardinality(endpoints) > 0 AND array_position(endpoints, NULL) IS NULL),
    feature_flag     text,
    legacy_job       text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Read-only for clients: the frontend may show TTLs, but only deploys change them.
ALTER TABLE public.data_type_registry{{ suffix }} ENABLE ROW LEVEL SECURITY;

CREATE POLICY data_type_registry{{ suffix }}_read ON public.data_type_registry{{ suffix }}
    FOR SELECT TO anon, authenticated
    USING (true);

REVOKE ALL ON TABLE public.data_type_registry{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.data_type_registry{{ suffix }} TO anon, authenticated, service_role;

-- Seeded from the plan's data types. Re-running brings rows back in line with the plan;
-- rows the plan no longer names are left alone (removing a type is a decision, not a sync).
INSERT INTO public.data_type_registry{{ suffix }} AS r
    (data_type, target_table, key_column, timestamp_column, ttl_seconds, priority,
     estimated_bytes, refresh_strategy, endpoints, feature_flag, legacy_job)
SELECT d.name, d."table", d.key_column, d.timestamp_column, d.ttl_seconds, d.priority,
       d.estimated_bytes, d.strategy, d.endpoints, d.flag, d.legacy_job
FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb))
     AS d(name text, "table" text, key_column text, timestamp_column text, ttl_seconds integer,
          priority integer, estimated_bytes bigint, strategy text, endpoints text[], flag text,
          legacy_job text)
ON CONFLICT (data_type) DO UPDATE
    SET target_table     = EXCLUDED.target_table,
        key_column       = EXCLUDED.key_column,
        timestamp_column = EXCLUDED.timestamp_column,
        ttl_seconds      = EXCLUDED.ttl_seconds,
        priority         = EXCLUDED.priority,
        estimated_bytes  = EXCLUDED.estimated_bytes,
        refresh_strategy = EXCLUDED.refresh_strategy,
        endpoints        = EXCLUDED.endpoints,
        feature_flag     = EXCLUDED.feature_flag,
        legacy_job       = EXCLUDED.legacy_job,
        updated_at       = now()
    WHERE (r.target_table, r.key_column, r.timestamp_column, r.ttl_seconds, r.priority,
           r.estimated_bytes, r.refresh_strategy, r.endpoints, r.feature_flag, r.legacy_job)
          IS DISTINCT FROM
          (EXCLUDED.target_table, EXCLUDED.key_column, EXCLUDED.timestamp_column, EXCLUDED.ttl_seconds,
           EXCLUDED.priority, EXCLUDED.estimated_bytes, EXCLUDED.refresh_strategy, EXCLUDED.endpoints,
           EXCLUDED.feature_flag, EXCLUDED.legacy_job);
