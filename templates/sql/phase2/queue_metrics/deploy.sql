-- Metrics for the weekly review. Every figure reads a small partition or an index range:
-- completed history is only ever touched through its finished_at index, and the usage
-- buckets through their primary key, so reading them stays cheap at millions of rows.
-- The views run with the rights of whoever reads them (security_invoker), never their owner's:
-- service_role reads what it may read anyway, and a grant to anyone else gives nothing more.

-- The oldest waiting job, without scanning the pending backlog.
CREATE INDEX api_call_queue{{ suffix }}_pending_created_idx
    ON public.api_call_queue{{ suffix }}_pending (created_at);

CREATE VIEW public.queue_depth{{ suffix }} WITH (security_invoker = true) AS
SELECT 'pending'::text AS status, q.data_type, count(*) AS jobs,
       count(*) FILTER (WHERE q.scheduled_for <= now()) AS due
FROM public.api_call_queue{{ suffix }}_pending AS q GROUP BY q.data_type
UNION ALL
SELECT 'processing', q.data_type, count(*), count(*)
FROM public.api_call_queue{{ suffix }}_processing AS q GROUP BY q.data_type;

CREATE VIEW public.queue_metrics{{ suffix }} WITH (security_invoker = true) AS
SELECT
    (SELECT count(*) FROM public.api_call_queue{{ suffix }}_pending) AS pending,
    (SELECT count(*) FROM public.api_call_queue{{ suffix }}_processing) AS processing,
    (SELECT count(*) FROM public.api_call_queue{{ suffix }}_completed AS q
     WHERE q.finished_at > now() - interval '15 minutes') / 15.0::float8 AS jobs_per_minute,
    (SELECT count(*) FROM public.api_call_queue{{ suffix }}_failed AS q
     WHERE q.finished_at > now() - interval '1 hour') AS failed_last_hour,
    (SELECT COALESCE(sum(u.errors)::float8 / NULLIF(sum(u.calls), 0), 0)
     FROM public.api_data_usage{{ suffix }} AS u WHERE u.bucket > now() - interval '1 hour') AS error_rate,
    (SELECT COALESCE(sum(u.calls), 0)::bigint FROM public.api_data_usage{{ suffix }} AS u
     WHERE u.bucket > now() - interval '1 hour') AS calls_last_hour,
    (SELECT COALESCE(sum(u.bytes), 0)::bigint FROM public.api_data_usage{{ suffix }} AS u
     WHERE u.bucket > now() - interval '24 hours') AS bytes_last_day,
    (SELECT now() - min(q.created_at) FROM public.api_call_queue{{ suffix }}_pending AS q) AS oldest_pending_age,
    (SELECT count(*) FROM public.api_call_queue{{ suffix }}_processing AS q, public.queue_config{{ suffix }} AS c
     WHERE q.started_at < now() - make_interval(secs => c.stuck_timeout_seconds)) AS stuck,
    (SELECT p.breaker_state FROM public.processor_state{{ suffix }} AS p) AS breaker_state,
    (SELECT p.last_invoked_at FROM public.processor_state{{ suffix }} AS p) AS last_processor_run;

REVOKE ALL ON TABLE public.queue_depth{{ suffix }}, public.queue_metrics{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.queue_depth{{ suffix }}, public.queue_metrics{{ suffix }} TO service_role;
