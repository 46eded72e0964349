-- Revision 4 -> 5 of api_data_usage: the call ring counts slots of ring_slot_ms (250 ms), not whole seconds, and keeps their total; the call slack is call_slack_ms (1000 by default): a call stays counted the window plus the slack, rounded up to a slot
-- Runs on a live database at revision 4, in the phase's transaction, before the
-- verify of revision 5; it must reach exactly what deploy.sql creates.
-- The slack in milliseconds, a new column; call_slack_seconds stays (the plan derives it: the
-- slack rounded up to whole seconds) for processors deployed before this revision.
ALTER TABLE public.queue_config{{ suffix }} ADD COLUMN call_slack_ms integer;
UPDATE public.queue_config{{ suffix }}
SET call_slack_ms = (s #>> '{quotas,call_slack_ms}')::integer,
    call_slack_seconds = (s #>> '{quotas,call_slack_seconds}')::integer,
    updated_at = now()
FROM (SELECT toolkit.param('settings') AS s) AS p;
ALTER TABLE public.queue_config{{ suffix }}
    ALTER COLUMN call_slack_ms SET NOT NULL,
    ADD CHECK (call_slack_ms BETWEEN 10 AND 60000);

-- The ring counts its total, then slots of ring_slot_ms. The old layout (whole seconds) means
-- nothing in the new one: what the old ring still counts goes into the current slot, which
-- keeps it in every window it could belong to (conservative by at most one window). The row
-- is locked first, so no permit is granted between the read and the write. The old ring is
-- read with the old quota_ring_advance, which the new one then replaces.
ALTER TABLE public.api_quota_state{{ suffix }}
    ADD COLUMN ring_slot_ms integer NOT NULL DEFAULT 250 CHECK (ring_slot_ms BETWEEN 1 AND 1000);
WITH q AS (
    SELECT s.call_ring, s.ring_epoch, s.ring_slot_ms FROM public.api_quota_state{{ suffix }} AS s FOR UPDATE
), o AS (
    SELECT (SELECT COALESCE(sum(x), 0)
            FROM unnest(public.quota_ring_advance{{ suffix }}(q.call_ring, q.ring_epoch,
                                                               floor(extract(epoch FROM clock_timestamp()))::bigint)) AS x)::integer
               AS held,
           floor(extract(epoch FROM clock_timestamp()) * 1000 / q.ring_slot_ms)::bigint AS now_slot,
           ceil((c.call_window_seconds * 1000 + c.call_slack_ms) / q.ring_slot_ms::numeric)::integer + 1 AS len
    FROM q, public.queue_config{{ suffix }} AS c
)
UPDATE public.api_quota_state{{ suffix }} AS s
SET call_ring = (SELECT array_agg(CASE WHEN i = 1 OR i = (o.now_slot % o.len) + 2 THEN o.held ELSE 0 END
                                  ORDER BY i)
                 FROM generate_series(1, o.len + 1) AS i),
    ring_epoch = o.now_slot
FROM o;

{% include 'phase2/api_data_usage/r5/phase2/api_data_usage/functions.sql' %}
