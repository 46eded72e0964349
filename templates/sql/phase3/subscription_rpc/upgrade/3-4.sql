-- Revision 4: a page being opened is queued above every refresh for viewers already watching.
-- The functions only; the rate-limit table is unchanged.
{% include 'phase3/subscription_rpc/functions.sql' %}
