-- Queries of `toolkit queue`. {placeholders} are identifiers carrying the plan's suffix.

-- name: metrics
SELECT * FROM public.{metrics};

-- name: depth
SELECT status, data_type, jobs, due FROM public.{depth} ORDER BY status, data_type;

-- name: quota
SELECT public.{quota_status}();

-- name: enqueue
SELECT job_id, outcome FROM public.{enqueue}(%(symbol)s, %(data_type)s, %(priority)s);

-- name: retry_failed
SELECT public.{retry_failed}(%(data_type)s, %(limit)s);

-- name: purge
SELECT public.{purge}(%(older_than)s, %(limit)s);

-- name: purge_candidates
SELECT (SELECT count(*) FROM public.{completed} WHERE finished_at < clock_timestamp() - %(older_than)s)
     + (SELECT count(*) FROM public.{failed} WHERE finished_at < clock_timestamp() - %(older_than)s);

-- name: invoke_loop
SELECT public.{invoke_loop}();

-- name: record_result
SELECT public.{record_result}(%(ok)s, %(error)s);

-- name: due
SELECT count(*) FROM public.{pending} WHERE scheduled_for <= now();
