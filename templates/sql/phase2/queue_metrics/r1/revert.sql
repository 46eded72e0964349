DROP VIEW IF EXISTS public.queue_metrics{{ suffix }};
DROP VIEW IF EXISTS public.queue_depth{{ suffix }};
DROP INDEX IF EXISTS public.api_call_queue{{ suffix }}_pending_created_idx;
