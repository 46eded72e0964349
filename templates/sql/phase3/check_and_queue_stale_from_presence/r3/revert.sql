DROP FUNCTION IF EXISTS public.check_and_queue_stale_data_from_presence{{ suffix }}();
DROP FUNCTION IF EXISTS public.check_processor_responses{{ suffix }}();
