-- The quota arithmetic the claim, the permits and the status share (deploy.sql and its
-- upgrades include this file).

-- The ring as it stands at slot p_now (api_quota_state's ring_slot_ms says how long a slot
-- is): slots that left the window are zeroed and taken off the total, the ring's first
-- element, so that readers never sum the slots. The loop counts the slots that passed (fewer
-- than the ring holds), never slot numbers themselves: a plpgsql FOR loop counts in integer,
-- which slot numbers (like epoch seconds after 2038) outgrow.
CREATE OR REPLACE FUNCTION public.quota_ring_advance{{ suffix }}(p_ring integer[], p_epoch bigint, p_now bigint)
RETURNS integer[]
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $$
DECLARE
    n integer := pg_catalog.cardinality(p_ring) - 1;  -- the total, then the slots
    r integer[] := p_ring;
BEGIN
    IF p_now - p_epoch >= n THEN
        RETURN pg_catalog.array_fill(0, ARRAY[n + 1]);
    END IF;
    FOR k IN 1 .. GREATEST(p_now - p_epoch, 0)::integer LOOP
        r[1] := r[1] - r[((p_epoch + k) % n)::integer + 2];
        r[((p_epoch + k) % n)::integer + 2] := 0;
    END LOOP;
    RETURN r;
END
$$;

-- Bytes used in the trailing window at p_now: estimates of jobs in flight plus actual bytes
-- of the buckets, reading only the buckets that left the window or the cache since the
-- state row was last written. A completion that commits while this runs is counted twice at
-- worst (still in flight, and in its bucket), never not at all.
-- It runs on every claim: plpgsql, whose statement is prepared once per session, so that the
-- fixed search_path costs microseconds (a SET clause stops a SQL function being inlined, and
-- one not inlined is planned again on every call). Two range scans of the buckets' key, each
-- a plain aggregate: the first is empty except when a minute turns.
CREATE OR REPLACE FUNCTION public.quota_window_bytes{{ suffix }}(
    p_now timestamptz, st public.api_quota_state{{ suffix }}, p_window_days integer)
RETURNS TABLE (bytes_used bigint, inflight bigint, window_from timestamptz, cached_until timestamptz,
               cached_bytes bigint, released_cached bigint)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT (f.inflight + st.cached_bytes - e.evicted + n.newly_bytes + n.recent_bytes)::bigint,
           f.inflight::bigint, b.window_from, b.cached_until,
           (st.cached_bytes - e.evicted + n.newly_bytes)::bigint,
           (st.released_cached + n.newly_released)::bigint
    FROM (SELECT GREATEST(st.window_from,
                          pg_catalog.date_trunc('minute', p_now) - pg_catalog.make_interval(days => p_window_days))
                     AS window_from,
                 -- The last minute stays uncached: a completion that began in it may commit late.
                 GREATEST(st.cached_until, pg_catalog.date_trunc('minute', p_now) - interval '1 minute')
                     AS cached_until) AS b,
         -- Cached buckets that left the window since the last write (none within a minute).
         LATERAL (SELECT COALESCE(sum(u.bytes), 0) AS evicted
                  FROM public.api_data_usage{{ suffix }} AS u
                  WHERE u.bucket >= st.window_from AND u.bucket < b.window_from AND u.bucket < st.cached_until) AS e,
         -- Buckets not cached at the last write: those cached from now on, and the recent ones.
         LATERAL (SELECT COALESCE(sum(u.bytes) FILTER (WHERE u.bucket < b.cached_until AND u.bucket >= b.window_from), 0)
                             AS newly_bytes,
                         COALESCE(sum(u.released) FILTER (WHERE u.bucket < b.cached_until), 0) AS newly_released,
                         COALESCE(sum(u.bytes) FILTER (WHERE u.bucket >= b.cached_until), 0) AS recent_bytes,
                         COALESCE(sum(u.released) FILTER (WHERE u.bucket >= b.cached_until), 0) AS recent_released
                  FROM public.api_data_usage{{ suffix }} AS u
                  WHERE u.bucket >= st.cached_until) AS n,
         LATERAL (SELECT GREATEST(st.reserved_total - st.released_cached - n.newly_released - n.recent_released, 0)
                         AS inflight) AS f;
END
$$;
