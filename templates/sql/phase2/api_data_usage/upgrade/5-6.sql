{% set ring_slot_ms = 125 -%}
-- Revision 5 -> 6 of api_data_usage: the call ring's slots are 125 ms, not 250. A processor
-- that uses calls as they free takes them at the start of a slot, so each call holds the
-- budget the window, the slack and a whole slot: a shorter slot is budget used.
-- Runs on a live database at revision 5, in the phase's transaction, before the verify of
-- revision 6; it must reach exactly what deploy.sql creates.
ALTER TABLE public.api_quota_state{{ suffix }} ALTER COLUMN ring_slot_ms SET DEFAULT {{ ring_slot_ms }};

-- The old slots mean nothing in the new layout: what the ring counts now goes into the current
-- slot of the new one, which keeps it in every window it could belong to (conservative by at
-- most one window). The row is locked first, so no permit is granted between the read and
-- the write.
WITH q AS (
    SELECT s.call_ring, s.ring_epoch, s.ring_slot_ms FROM public.api_quota_state{{ suffix }} AS s FOR UPDATE
), o AS (
    SELECT (public.quota_ring_advance{{ suffix }}(q.call_ring, q.ring_epoch,
                floor(extract(epoch FROM clock_timestamp()) * 1000 / q.ring_slot_ms)::bigint))[1] AS held,
           floor(extract(epoch FROM clock_timestamp()) * 1000 / {{ ring_slot_ms }})::bigint AS now_slot,
           ceil((c.call_window_seconds * 1000 + c.call_slack_ms) / {{ ring_slot_ms }}.0)::integer + 1 AS len
    FROM q, public.queue_config{{ suffix }} AS c
)
UPDATE public.api_quota_state{{ suffix }} AS s
SET call_ring = (SELECT array_agg(CASE WHEN i = 1 OR i = (o.now_slot % o.len) + 2 THEN o.held ELSE 0 END
                                  ORDER BY i)
                 FROM generate_series(1, o.len + 1) AS i),
    ring_epoch = o.now_slot,
    ring_slot_ms = {{ ring_slot_ms }}
FROM o;
