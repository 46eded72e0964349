-- LOCAL ONLY: the queries of the pg_net stand-in's worker (toolkit/dev/pg_net/worker.py).

-- name: listen
-- The channel net.wake() notifies (net.sql).
LISTEN toolkit_pg_net_wake

-- name: take
-- Deleted and committed before anything is sent: a request is sent at most once, even when
-- the worker dies mid-batch. SKIP LOCKED lets a second worker take other rows instead of
-- waiting. Headers go out as pg_net hands them to curl: "name: value" from jsonb_each_text,
-- JSON nulls left out; NULL headers (not even pg_net's User-Agent) stay NULL. now() is kept
-- as the responses' `created`, which pg_net takes from the transaction that took them.
WITH taken AS (
    SELECT q.id
    FROM net.http_request_queue AS q
    ORDER BY q.id
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM net.http_request_queue AS q
USING taken
WHERE q.id = taken.id
RETURNING q.id, q.method, q.url, q.timeout_milliseconds,
          CASE WHEN q.headers IS NOT NULL THEN
              ARRAY(SELECT h.key || ': ' || h.value
                    FROM pg_catalog.jsonb_each_text(q.headers) WITH ORDINALITY AS h(key, value, n)
                    WHERE h.value IS NOT NULL ORDER BY h.n)
          END AS headers,
          q.body,
          pg_catalog.now() AS taken_at

-- name: respond
INSERT INTO net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg, created)
VALUES (%(id)s, %(status_code)s, %(content_type)s, %(headers)s, %(content)s, %(timed_out)s, %(error_msg)s, %(created)s)

-- name: expire
-- pg_net's TTL: at most one batch of the oldest expired responses per round.
WITH expired AS (
    SELECT r.ctid
    FROM net._http_response AS r
    WHERE r.created < pg_catalog.now() - pg_catalog.make_interval(secs => %(ttl_seconds)s::float8)
    ORDER BY r.created
    LIMIT %(batch_size)s
)
DELETE FROM net._http_response AS r
USING expired
WHERE r.ctid = expired.ctid
