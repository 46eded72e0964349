DROP FUNCTION IF EXISTS public.refresh_analytics_from_presence{{ suffix }}();
-- Derived from the subscriptions: rebuilt by the next deploy and run.
DROP TABLE IF EXISTS public.presence_analytics{{ suffix }};
