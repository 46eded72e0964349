DROP FUNCTION IF EXISTS public.invoke_processor_loop{{ suffix }}();
DROP FUNCTION IF EXISTS public.record_processor_result{{ suffix }}(boolean, text, integer, integer);
-- Breaker state and its run history are operational, not user data: the next deploy starts closed.
DROP TABLE IF EXISTS public.processor_runs{{ suffix }};
DROP TABLE IF EXISTS public.processor_state{{ suffix }};
