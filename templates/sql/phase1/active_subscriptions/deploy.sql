-- Which user watches which symbol, refreshed by presence heartbeats (last_seen). The
-- staleness checker queues refreshes for symbols someone is looking at right now.

CREATE TABLE public.active_subscriptions{{ suffix }} (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid        NOT NULL,
    symbol     text        NOT NULL
                           -- The ticker-symbol rule of toolkit.rules (public.is_valid_symbol's).
                           CONSTRAINT active_subscriptions{{ suffix }}_symbol_format
                           CHECK (symbol ~ '{{ rules.symbol_pattern }}'),
    data_types text[]      NOT NULL
                           CONSTRAINT active_subscriptions{{ suffix }}_data_types_nonempty
                           CHECK (cardinality(data_types) > 0 AND array_position(data_types, NULL) IS NULL),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One row per user and symbol: heartbeats upsert on it. It also serves the
    -- "own rows" RLS filter, which leads with user_id.
    CONSTRAINT active_subscriptions{{ suffix }}_user_symbol_key UNIQUE (user_id, symbol)
);

-- Expiry sweeps scan by last_seen; the staleness checker groups watchers by symbol.
CREATE INDEX active_subscriptions{{ suffix }}_last_seen_idx ON public.active_subscriptions{{ suffix }} (last_seen);
CREATE INDEX active_subscriptions{{ suffix }}_symbol_idx ON public.active_subscriptions{{ suffix }} (symbol);

ALTER TABLE public.active_subscriptions{{ suffix }} ENABLE ROW LEVEL SECURITY;

-- (select auth.uid()) rather than auth.uid(): evaluated once per query, not once per row.
CREATE POLICY active_subscriptions{{ suffix }}_read_own ON public.active_subscriptions{{ suffix }}
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));

-- Clients only read their own rows; writes come through SECURITY DEFINER functions and
-- the service role (track-subscription Edge Function).
REVOKE ALL ON TABLE public.active_subscriptions{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.active_subscriptions{{ suffix }} TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.active_subscriptions{{ suffix }} TO service_role;
REVOKE ALL ON SEQUENCE public.active_subscriptions{{ suffix }}_id_seq FROM PUBLIC, anon, authenticated;
