{% from '_macros.sql' import service_role_only -%}
-- The staleness system's settings (seeded from phases.yaml) and what its runs last did.
CREATE TABLE public.staleness_config{{ suffix }} (
    id                              boolean PRIMARY KEY DEFAULT true CHECK (id),
    subscription_ttl_seconds        integer NOT NULL CHECK (subscription_ttl_seconds > 0),
    scheduled_min_interval_seconds  integer NOT NULL CHECK (scheduled_min_interval_seconds >= 0),
    scheduled_max_jobs              integer NOT NULL CHECK (scheduled_max_jobs > 0),
    background_sample_percent       double precision NOT NULL CHECK (background_sample_percent > 0 AND background_sample_percent <= 100),
    min_quota_headroom              double precision NOT NULL CHECK (min_quota_headroom BETWEEN 0 AND 1),
    queue_chunk_symbols             integer NOT NULL CHECK (queue_chunk_symbols > 0),
    track_rate_limit_per_minute     integer NOT NULL CHECK (track_rate_limit_per_minute > 0),
    updated_at                      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.staleness_config{{ suffix }} (
    subscription_ttl_seconds, scheduled_min_interval_seconds, scheduled_max_jobs,
    background_sample_percent, min_quota_headroom, queue_chunk_symbols, track_rate_limit_per_minute)
SELECT (s #>> '{subscription_ttl_seconds}')::integer, (s #>> '{scheduled_min_interval_seconds}')::integer,
       (s #>> '{scheduled_max_jobs}')::integer, (s #>> '{background_sample_percent}')::double precision,
       (s #>> '{min_quota_headroom}')::double precision, (s #>> '{queue_chunk_symbols}')::integer,
       (s #>> '{track_rate_limit_per_minute}')::integer
FROM (SELECT toolkit.param('settings', 'staleness') AS s) AS p;

CREATE TABLE public.staleness_state{{ suffix }} (
    id                        boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_presence_run_at      timestamptz,
    last_presence_result      jsonb,
    last_scheduled_run_at     timestamptz,
    last_scheduled_result     jsonb,
    last_checked_request_id   bigint
);
INSERT INTO public.staleness_state{{ suffix }} DEFAULT VALUES;

-- Which registry rows can safely become dynamic SQL: every identifier valid, or the type
-- is refused (and logged) before any statement is built from it.
CREATE OR REPLACE FUNCTION public.registry_identifiers_valid{{ suffix }}(p_table text, p_key text, p_ts text)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT public.is_valid_identifier(p_table) AND public.is_valid_identifier(p_ts)
           AND (p_key IS NULL OR public.is_valid_identifier(p_key))
$$;

ALTER TABLE public.staleness_config{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.staleness_state{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.staleness_config{{ suffix }}, public.staleness_state{{ suffix }}
    FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.staleness_config{{ suffix }}, public.staleness_state{{ suffix }} TO service_role;
{{ service_role_only(['public.registry_identifiers_valid' ~ suffix ~ '(text, text, text)']) }}
