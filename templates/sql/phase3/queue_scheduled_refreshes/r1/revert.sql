DROP FUNCTION IF EXISTS public.queue_scheduled_refreshes{{ suffix }}();
