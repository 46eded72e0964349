{% from '_macros.sql' import service_role_only -%}
{% set ring_slot_ms = 125 -%}
-- Accounting for the market-data API's two limits, and the queue's settings.
--
-- api_data_usage{{ suffix }}: calls and bytes per minute. Calls are counted when they are
-- permitted (just before they are made), bytes and job outcomes when an outcome is known
-- (completion, failure, reset). It feeds the weekly metrics and the trailing byte window.
CREATE TABLE public.api_data_usage{{ suffix }} (
    bucket          timestamptz PRIMARY KEY
                    CONSTRAINT api_data_usage{{ suffix }}_bucket_minute CHECK (bucket = date_trunc('minute', bucket)),
    calls           bigint      NOT NULL DEFAULT 0 CHECK (calls >= 0),
    bytes           bigint      NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    errors          bigint      NOT NULL DEFAULT 0 CHECK (errors >= 0),
    completed_jobs  bigint      NOT NULL DEFAULT 0 CHECK (completed_jobs >= 0),
    failed_jobs     bigint      NOT NULL DEFAULT 0 CHECK (failed_jobs >= 0),
    -- Estimates released from the in-flight reservation by jobs that left processing.
    released        bigint      NOT NULL DEFAULT 0 CHECK (released >= 0),
    -- Acknowledgements (complete, fail, reset) refused because the caller no longer held the job.
    refused_acks    bigint      NOT NULL DEFAULT 0 CHECK (refused_acks >= 0)
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
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    -- Revision 2 (the upgrade adds them in this order, so both ways give one table).
    -- The slack in whole seconds (call_slack_ms rounded up), as revisions before 5 counted it;
    -- kept for processors deployed before it.
    call_slack_seconds          integer NOT NULL CHECK (call_slack_seconds BETWEEN 1 AND 60),
    breaker_error_rate          double precision NOT NULL CHECK (breaker_error_rate > 0 AND breaker_error_rate <= 1),
    breaker_window_seconds      integer NOT NULL CHECK (breaker_window_seconds > 0),
    breaker_min_calls           integer NOT NULL CHECK (breaker_min_calls > 0),
    breaker_probe_calls         integer NOT NULL CHECK (breaker_probe_calls > 0),
    -- Revision 4 (likewise). How a start of the processor runs (settings.processor): drains
    -- continuously, taking jobs for processor_run_seconds and looking for new due jobs every
    -- processor_idle_poll_ms while the queue is empty, or once, until nothing is due.
    processor_drain             text    NOT NULL CHECK (processor_drain IN ('continuous', 'once')),
    processor_run_seconds       integer NOT NULL CHECK (processor_run_seconds BETWEEN 10 AND 110),
    processor_idle_poll_ms      integer NOT NULL CHECK (processor_idle_poll_ms BETWEEN 20 AND 5000),
    -- Revision 5 (likewise). The longest a call may reach the provider after its permit:
    -- counted in the ring too.
    call_slack_ms               integer NOT NULL CHECK (call_slack_ms BETWEEN 10 AND 60000)
);

INSERT INTO public.queue_config{{ suffix }} (
    calls_per_window, call_window_seconds, call_slack_seconds, bytes_per_window, byte_window_days,
    stuck_timeout_seconds, max_attempts, backoff_base_seconds, backoff_max_seconds, claim_retries,
    estimate_sample_rate, completed_retention_hours, failed_retention_days, maintenance_batch_size,
    breaker_failure_threshold, breaker_error_rate, breaker_window_seconds, breaker_min_calls,
    breaker_open_seconds, breaker_probe_calls, processor_url,
    presence_lock_id, scheduled_lock_id, processor_lock_id,
    processor_drain, processor_run_seconds, processor_idle_poll_ms, call_slack_ms)
SELECT (s #>> '{quotas,calls_per_window}')::integer,
       (s #>> '{quotas,call_window_seconds}')::integer,
       (s #>> '{quotas,call_slack_seconds}')::integer,
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
       (s #>> '{breaker,error_rate}')::double precision,
       (s #>> '{breaker,window_seconds}')::integer,
       (s #>> '{breaker,min_calls}')::integer,
       (s #>> '{breaker,open_seconds}')::double precision,
       (s #>> '{breaker,probe_calls}')::integer,
       s ->> 'processor_url',
       (s #>> '{locks,presence_check}')::bigint,
       (s #>> '{locks,scheduled_refresh}')::bigint,
       (s #>> '{locks,processor_loop}')::bigint,
       s #>> '{processor,drain}',
       (s #>> '{processor,run_seconds}')::integer,
       (s #>> '{processor,idle_poll_ms}')::integer,
       (s #>> '{quotas,call_slack_ms}')::integer
FROM (SELECT toolkit.param('settings') AS s) AS p;

-- One row: what the call permits and the claim need to enforce both limits quickly. Each
-- writes back only the columns it owns, and only if they are unchanged since it read them,
-- so every write is based on the one before.
--   call_ring: first the calls it counts, then the calls permitted per slot of ring_slot_ms
--              milliseconds (the slot of a time is floor(epoch milliseconds / ring_slot_ms);
--              its place is 2 + slot mod the number of slots) over the last
--              ceil((call_window_seconds * 1000 + call_slack_ms) / ring_slot_ms) + 1
--              slots. The total is kept as slots are added and cleared (quota_ring_advance),
--              so a claim reads the calls used without summing hundreds of slots. ring_epoch
--              is the newest slot written. A call reaches
--              the provider at most call_slack_ms after its permit, so the calls any real
--              window of the provider sees were permitted less than window + slack apart, which
--              puts their slots fewer than that many slots + 1 apart: within one ring; the
--              permit that came last checked them all (permits read the clock after the ring,
--              so later writes never carry earlier slots). A call stays counted window + slack
--              plus at most one slot, and a processor that uses calls as they free takes them
--              at the start of a slot, so it holds each for all of that: it uses window /
--              (window + slack + slot) of the budget. Slots of 125 ms keep that extra small.
--              Written by take_call_permits.
--   cached_bytes: actual bytes of the usage buckets in [window_from, cached_until), kept so a
--                 claim reads only the few buckets that changed instead of 30 days of them.
--   reserved_total / released_cached: estimated bytes of jobs in flight, as two running
--                 totals: claims add to the first when they write this row; jobs leaving processing
--                 record what they release in the usage buckets, without touching this row,
--                 so completions never wait for claims. These and the byte cache are the claim's.
CREATE TABLE public.api_quota_state{{ suffix }} (
    id              boolean     PRIMARY KEY DEFAULT true CHECK (id),
    call_ring       integer[]   NOT NULL,
    ring_epoch      bigint      NOT NULL,
    window_from     timestamptz NOT NULL,
    cached_until    timestamptz NOT NULL,
    cached_bytes    bigint      NOT NULL DEFAULT 0,
    reserved_total  bigint      NOT NULL DEFAULT 0,
    released_cached bigint      NOT NULL DEFAULT 0,
    -- Revision 5 (its upgrade adds it, so both ways give one table); 125 ms since revision 6.
    ring_slot_ms    integer     NOT NULL DEFAULT {{ ring_slot_ms }} CHECK (ring_slot_ms BETWEEN 1 AND 1000)
);

INSERT INTO public.api_quota_state{{ suffix }} (call_ring, ring_epoch, window_from, cached_until, ring_slot_ms)
SELECT array_fill(0, ARRAY[ceil((c.call_window_seconds * 1000 + c.call_slack_ms) / {{ ring_slot_ms }}.0)::integer + 2]),
       floor(extract(epoch FROM now()) * 1000 / {{ ring_slot_ms }})::bigint,
       date_trunc('minute', now()) - make_interval(days => c.byte_window_days),
       date_trunc('minute', now()) - interval '1 minute',
       {{ ring_slot_ms }}
FROM public.queue_config{{ suffix }} AS c;

{% include 'phase2/api_data_usage/functions.sql' %}

ALTER TABLE public.api_data_usage{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.queue_config{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_quota_state{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.api_data_usage{{ suffix }}, public.queue_config{{ suffix }}, public.api_quota_state{{ suffix }}
    FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.api_data_usage{{ suffix }}, public.queue_config{{ suffix }}, public.api_quota_state{{ suffix }}
    TO service_role;

{{ service_role_only(['public.quota_ring_advance' ~ suffix ~ '(integer[], bigint, bigint)',
                      'public.quota_window_bytes' ~ suffix ~ '(timestamptz, public.api_quota_state' ~ suffix ~ ', integer)']) }}
