-- Revision 2: track_subscription checks the request before counting it against the user's
-- rate limit. The functions only; the rate-limit table is unchanged.
{% include 'phase3/subscription_rpc/r2/phase3/subscription_rpc/functions.sql' %}
