-- Queries of `toolkit queue`. {placeholders} are identifiers carrying the plan's suffix.

-- name: metrics
SELECT * FROM public.{metrics};

-- name: depth
SELECT status, data_type, jobs, due FROM public.{depth} ORDER BY status, data_type;

-- name: quota
SELECT public.{quota_status}();

-- name: runtime
-- What the system learned while running, apart from what phases.yaml configures: each type's
-- learned size estimate, acknowledgements refused lately, and the breaker's reasons.
SELECT jsonb_build_object(
    'types', (SELECT jsonb_agg(jsonb_build_object('data_type', r.data_type, 'configured_bytes', r.estimated_bytes,
                                                  'learned_bytes', r.learned_bytes, 'learned_at', r.learned_at)
                               ORDER BY r.data_type)
              FROM public.{registry} AS r),
    'refused_acks_last_hour', (SELECT COALESCE(sum(u.refused_acks), 0) FROM public.{usage} AS u
                               WHERE u.bucket > now() - interval '1 hour'),
    'breaker', (SELECT jsonb_build_object('state', p.breaker_state, 'failed_runs_in_a_row', p.consecutive_failures,
                                          'opened_at', p.opened_at, 'opened_reason', p.opened_reason,
                                          'probe_calls_left', p.probe_calls_left, 'last_error', p.last_error)
                FROM public.{processor_state} AS p));

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
-- A run that could not run at all: no calls made, none failed.
SELECT public.{record_result}(%(ok)s, %(error)s, 0, 0);

-- name: due
SELECT count(*) FROM public.{pending} WHERE scheduled_for <= now();

-- name: stop_run
-- Ask the run that holds the processor to stop taking jobs (it sees it at its next renewal).
WITH stopped AS (
    UPDATE public.{state} SET run_id = NULL, run_started_at = NULL, run_ends_at = NULL, run_lease_until = NULL
    WHERE run_id IS NOT NULL RETURNING 1)
SELECT count(*) FROM stopped;

-- name: demo_backlog
-- The local demo's backlog: every example symbol for each per-symbol type, the global types
-- once, and every known exchange for the exchange-keyed ones.
WITH pairs AS (
    SELECT q.symbol, t.data_type FROM public.stock_quotes AS q, unnest(%(per_symbol)s::text[]) AS t(data_type)
    UNION ALL
    SELECT '*', t.data_type FROM unnest(%(globals)s::text[]) AS t(data_type)
    UNION ALL
    SELECT e.exchange, t.data_type FROM public.exchange_market_status AS e, unnest(%(by_exchange)s::text[]) AS t(data_type)
)
SELECT count(*) FROM public.{enqueue}(
    (SELECT array_agg(symbol) FROM pairs), (SELECT array_agg(data_type) FROM pairs),
    (SELECT array_agg(0) FROM pairs)) AS r
WHERE r.outcome = 'queued';
