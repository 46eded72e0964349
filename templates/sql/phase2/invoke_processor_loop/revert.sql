DROP FUNCTION IF EXISTS public.invoke_processor_loop{{ suffix }}();
DROP FUNCTION IF EXISTS public.begin_processor_run{{ suffix }}(text, double precision, double precision);
DROP FUNCTION IF EXISTS public.renew_processor_run{{ suffix }}(text, double precision);
DROP FUNCTION IF EXISTS public.end_processor_run{{ suffix }}(text);
DROP FUNCTION IF EXISTS public.has_due_jobs{{ suffix }}();
DROP FUNCTION IF EXISTS public.record_processor_result{{ suffix }}(boolean, text, integer, integer);
-- Breaker state and its run history are operational, not user data: the next deploy starts closed.
DROP TABLE IF EXISTS public.processor_runs{{ suffix }};
DROP TABLE IF EXISTS public.processor_state{{ suffix }};
