-- What the track-subscription-v2 and untrack-subscription-v2 Edge Functions call: one round
-- trip each. The per-user rate limit lives here, in Postgres, so it holds across every
-- instance of the function; a fixed one-minute window per user, one row per user.
CREATE TABLE public.subscription_rate_limits{{ suffix }} (
    user_id      uuid        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    calls        integer     NOT NULL
) WITH (fillfactor = 70);
ALTER TABLE public.subscription_rate_limits{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.subscription_rate_limits{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.subscription_rate_limits{{ suffix }} TO service_role;

{% include 'phase3/subscription_rpc/functions.sql' %}
