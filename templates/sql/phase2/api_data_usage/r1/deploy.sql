{% from '_macros.sql' import service_role_only -%}
-- Accounting for the market-data API's two limits, and the queue's settings.
--
-- api_data_usage{{ suffix }}: calls and bytes per minute, written when a call's outcome is
-- known (completion or failure). It feeds the weekly metrics and the trailing byte window.
CREATE TABLE public.api_data_usage{{ suffix }} (
    bucket          timestamptz PRIMARY KEY
                    CONSTRAINT api_data_usage{{ suffix }}_bucket_minute CHECK (bucket = date_trunc('minute', bucket)),
    calls           bigint      NOT NULL DEFAULT 0 CHECK (calls >= 0),
    bytes           bigint      NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    errors          bigint      NOT NULL DEFAULT 0 CHECK (errors >= 0),
    completed_jobs  bigint      NOT NULL DEFAULT 0 CHECK (completed_jobs >= 0),
    failed_jobs     bigint      NOT NULL DEFAULT 0 CHECK (failed_jobs >= 0),
    -- Estimates released from the in-flight reservation by jobs that left processing.
    released        bigint      NOT NULL DEFAULT 0 CHECK (released >= 0)
) WITH (fillfactor = 70);

-- One row: the settings the queue functions read at run time (seeded from phases.yaml), so
-- that one deployed value is the only source of truth for limits, timeouts and retention.
CREATE TABLE public.queue_config{{ suffix }} (
    id                          boolean PRIMARY KEY DEFAULT true CHECK (id),
    calls_per_window            integer NOT NULL CHECK (calls_per_window > 0),
    call_window_seconds         integer NOT NULL CHECK (call_window_seconds BETWEEN 1 AND 3600),
    bytes_per_window            bigint  NOT NULL CHECK (bytes_per_window > 0),
    byte_window_days            integer NOT NULL CHECK (byte_window_days > 0),
    stuck_timeout_seconds       integer NOT NULL CHECK (stuck_timeout_seconds > 0),
    max_attempts                integer NOT NULL CHECK (max_attempts > 0),
    backoff_base_seconds        double precision NOT NULL CHECK (backoff_base_seconds > 0),
    backoff_max_seconds         double precision NOT NULL CHECK (backoff_max_seconds > 0),
    claim_retries               integer NOT NULL CHECK (claim_retries >= 0),
    estimate_sample_rate        double precision NOT NULL CHECK (estimate_sample_rate BETWEEN 0 AND 1),
    completed_retention_hours   double precision NOT NULL CHECK (completed_retention_hours > 0),
    failed_retention_days       double precision NOT NULL CHECK (failed_retention_days > 0),
    maintenance_batch_size      integer NOT NULL CHECK (maintenance_batch_size > 0),
    breaker_failure_threshold   integer NOT NULL CHECK (breaker_failure_threshold > 0),
    breaker_open_seconds        double precision NOT NULL CHECK (breaker_open_seconds > 0),
    processor_url               text    NOT NULL,
    -- Vault secret holding the key the processor call sends (postgres scheduler mode).
    processor_secret_name       text    NOT NULL DEFAULT 'service_role_key',
    presence_lock_id            bigint  NOT NULL,
    scheduled_lock_id           bigint  NOT NULL,
    processor_lock_id           bigint  NOT NULL,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO public.queue_config{{ suffix }} (
    calls_per_window, call_window_seconds, bytes_per_window, byte_window_days,
    stuck_timeout_seconds, max_attempts, backoff_base_seconds, backoff_max_seconds, claim_retries,
    estimate_sample_rate, completed_retention_hours, failed_retention_days, maintenance_batch_size,
    breaker_failure_threshold, breaker_open_seconds, processor_url,
    presence_lock_id, scheduled_lock_id, processor_lock_id)
SELECT (s #>> '{quotas,calls_per_window}')::integer,
       (s #>> '{quotas,call_window_seconds}')::integer,
       (s #>> '{quotas,bytes_per_window}')::bigint,
       (s #>> '{quotas,window_days}')::integer,
       (s #>> '{queue,stuck_timeout_seconds}')::integer,
       (s #>> '{queue,max_attempts}')::integer,
       (s #>> '{queue,backoff_base_seconds}')::double precision,
       (s #>> '{queue,backoff_max_seconds}')::double precision,
       (s #>> '{queue,claim_retries}')::integer,
       (s #>> '{queue,estimate_sample_rate}')::double precision,
       (s #>> '{queue,completed_retention_hours}')::double precision,
       (s #>> '{queue,failed_retention_days}')::double precision,
       (s #>> '{queue,maintenance_batch_size}')::integer,
       (s #>> '{breaker,failure_threshold}')::integer,
       (s #>> '{breaker,open_seconds}')::double precision,
       s ->> 'processor_url',
       (s #>> '{locks,presence_check}')::bigint,
       (s #>> '{locks,scheduled_refresh}')::bigint,
       (s #>> '{locks,processor_loop}')::bigint
FROM (SELECT toolkit.param('settings') AS s) AS p;

-- One row: what the claim needs to enforce both limits quickly. Claims write it back only
-- if it is unchanged since they read it, so every write is based on the one before.
--   call_ring: calls handed out per second over the last call_window_seconds + 1 seconds
--              (slot = epoch second mod ring length); ring_epoch is the newest second written.
--              Counting window + 1 whole seconds means any real window of that length is covered.
--   cached_bytes: actual bytes of the usage buckets in [window_from, cached_until), kept so a
--                 claim reads only the few buckets that changed instead of 30 days of them.
--   reserved_total / released_cached: estimated bytes of jobs in flight, as two running
--                 totals: claims add to the first when they write this row; jobs leaving processing
--                 record what they release in the usage buckets, without touching this row,
--                 so completions never wait for claims.
CREATE TABLE public.api_quota_state{{ suffix }} (
    id              boolean     PRIMARY KEY DEFAULT true CHECK (id),
    call_ring       integer[]   NOT NULL,
    ring_epoch      bigint      NOT NULL,
    window_from     timestamptz NOT NULL,
    cached_until    timestamptz NOT NULL,
    cached_bytes    bigint      NOT NULL DEFAULT 0,
    reserved_total  bigint      NOT NULL DEFAULT 0,
    released_cached bigint      NOT NULL DEFAULT 0
);

INSERT INTO public.api_quota_state{{ suffix }} (call_ring, ring_epoch, window_from, cached_until)
SELECT array_fill(0, ARRAY[c.call_window_seconds + 1]),
       floor(extract(epoch FROM now()))::bigint,
       date_trunc('minute', now()) - make_interval(days => c.byte_window_days),
       date_trunc('minute', now()) - interval '1 minute'
FROM public.queue_config{{ suffix }} AS c;

-- The ring as it stands at second p_now: slots of seconds that left the window are zeroed.
CREATE OR REPLACE FUNCTION public.quota_ring_advance{{ suffix }}(p_ring integer[], p_epoch bigint, p_now bigint)
RETURNS integer[]
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $$
DECLARE
    n integer := pg_catalog.cardinality(p_ring);
    r integer[] := p_ring;
    s bigint;
BEGIN
    IF p_now - p_epoch >= n THEN
        RETURN pg_catalog.array_fill(0, ARRAY[n]);
    END IF;
    FOR s IN p_epoch + 1 .. p_now LOOP
        r[(s % n) + 1] := 0;
    END LOOP;
    RETURN r;
END
$$;

-- Bytes used in the trailing window at p_now: estimates of jobs in flight plus actual bytes
-- of the buckets, reading only the buckets that left the window or the cache since the
-- state row was last written. A completion that commits while this runs is counted twice at
-- worst (still in flight, and in its bucket), never not at all.
-- Plain SQL, no SET clause and not SECURITY DEFINER, so that the planner inlines it into the
-- claim's statement: it runs on every claim. Every name is schema-qualified. Two range scans
-- of the buckets' key, each a plain aggregate: the first is empty except when a minute turns.
CREATE OR REPLACE FUNCTION public.quota_window_bytes{{ suffix }}(
    p_now timestamptz, st public.api_quota_state{{ suffix }}, p_window_days integer)
RETURNS TABLE (bytes_used bigint, inflight bigint, window_from timestamptz, cached_until timestamptz,
               cached_bytes bigint, released_cached bigint)
LANGUAGE sql
STABLE
AS $$
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
                         AS inflight) AS f
$$;

ALTER TABLE public.api_data_usage{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.queue_config{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_quota_state{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.api_data_usage{{ suffix }}, public.queue_config{{ suffix }}, public.api_quota_state{{ suffix }}
    FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.api_data_usage{{ suffix }}, public.queue_config{{ suffix }}, public.api_quota_state{{ suffix }}
    TO service_role;

{{ service_role_only(['public.quota_ring_advance' ~ suffix ~ '(integer[], bigint, bigint)',
                      'public.quota_window_bytes' ~ suffix ~ '(timestamptz, public.api_quota_state' ~ suffix ~ ', integer)']) }}
