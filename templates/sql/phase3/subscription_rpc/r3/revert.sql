DROP FUNCTION IF EXISTS public.untrack_subscription{{ suffix }}(uuid, text);
DROP FUNCTION IF EXISTS public.track_subscription{{ suffix }}(uuid, text, text[]);
-- Operational counters, not user data.
DROP TABLE IF EXISTS public.subscription_rate_limits{{ suffix }};
