-- Revision 3: track_subscription reads the freshness of every requested type in one
-- statement. The functions only; the rate-limit table is unchanged.
{% include 'phase3/subscription_rpc/r3/phase3/subscription_rpc/functions.sql' %}
