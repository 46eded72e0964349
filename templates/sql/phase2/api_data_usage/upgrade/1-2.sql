-- Revision 2: calls are counted when they are made (take_call_permits), the ring also covers
-- the call slack, refused acknowledgements are counted, and the breaker has more settings.
-- Every row is kept. Values come from the plan's settings, as in deploy.sql.
ALTER TABLE public.api_data_usage{{ suffix }}
    ADD COLUMN refused_acks bigint NOT NULL DEFAULT 0 CHECK (refused_acks >= 0);

ALTER TABLE public.queue_config{{ suffix }}
    ADD COLUMN call_slack_seconds integer,
    ADD COLUMN breaker_error_rate double precision,
    ADD COLUMN breaker_window_seconds integer,
    ADD COLUMN breaker_min_calls integer,
    ADD COLUMN breaker_probe_calls integer;
UPDATE public.queue_config{{ suffix }}
SET call_slack_seconds = (s #>> '{quotas,call_slack_seconds}')::integer,
    breaker_error_rate = (s #>> '{breaker,error_rate}')::double precision,
    breaker_window_seconds = (s #>> '{breaker,window_seconds}')::integer,
    breaker_min_calls = (s #>> '{breaker,min_calls}')::integer,
    breaker_probe_calls = (s #>> '{breaker,probe_calls}')::integer,
    updated_at = now()
FROM (SELECT toolkit.param('settings') AS s) AS p;
ALTER TABLE public.queue_config{{ suffix }}
    ALTER COLUMN call_slack_seconds SET NOT NULL,
    ADD CHECK (call_slack_seconds BETWEEN 1 AND 60),
    ALTER COLUMN breaker_error_rate SET NOT NULL,
    ADD CHECK (breaker_error_rate > 0 AND breaker_error_rate <= 1),
    ALTER COLUMN breaker_window_seconds SET NOT NULL,
    ADD CHECK (breaker_window_seconds > 0),
    ALTER COLUMN breaker_min_calls SET NOT NULL,
    ADD CHECK (breaker_min_calls > 0),
    ALTER COLUMN breaker_probe_calls SET NOT NULL,
    ADD CHECK (breaker_probe_calls > 0);

{% include 'phase2/api_data_usage/r2/phase2/api_data_usage/functions.sql' %}

-- The ring gets its new length. Slots are seconds modulo the length, so the old layout means
-- nothing in the new one: what the old ring still counts goes into the current second, which
-- keeps it in every window it could belong to (conservative by at most one window).
WITH o AS (
    SELECT (SELECT COALESCE(sum(x), 0)
            FROM unnest(public.quota_ring_advance{{ suffix }}(q.call_ring, q.ring_epoch, n.now_s)) AS x)::integer AS held,
           n.now_s, c.call_window_seconds + c.call_slack_seconds + 1 AS len
    FROM public.api_quota_state{{ suffix }} AS q, public.queue_config{{ suffix }} AS c,
         (SELECT floor(extract(epoch FROM clock_timestamp()))::bigint AS now_s) AS n
)
UPDATE public.api_quota_state{{ suffix }} AS s
SET call_ring = (SELECT array_agg(CASE WHEN i = (o.now_s % o.len) + 1 THEN o.held ELSE 0 END ORDER BY i)
                 FROM generate_series(1, o.len) AS i),
    ring_epoch = o.now_s
FROM o;
