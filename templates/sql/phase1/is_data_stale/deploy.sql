{% from '_macros.sql' import service_role_only -%}
-- Staleness is decided here and only here. No parameter defaults: a default TTL would be a
-- second source of truth next to data_type_registry{{ suffix }}, and a caller that forgot the TTL
-- would silently get it. A missing or non-positive TTL is a bug in the caller, so it raises
-- instead of guessing (treating it as stale would hammer the API; as fresh, starve the data).
CREATE OR REPLACE FUNCTION public.is_data_stale{{ suffix }}(p_last_updated timestamptz, p_ttl_seconds integer)
RETURNS boolean
LANGUAGE plpgsql
STABLE
PARALLEL SAFE
SET search_path = ''
AS $$
BEGIN
    IF p_ttl_seconds IS NULL OR p_ttl_seconds <= 0 THEN
        RAISE EXCEPTION 'is_data_stale{{ suffix }}: p_ttl_seconds must be a positive number of seconds, got %',
                        coalesce(p_ttl_seconds::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass ttl_seconds from data_type_registry{{ suffix }}.';
    END IF;
    -- Never fetched means stale. A timestamp in the future (clock skew) counts as fresh.
    RETURN p_last_updated IS NULL
        OR p_last_updated <= pg_catalog.now() - pg_catalog.make_interval(secs => p_ttl_seconds);
END
$$;

{{ service_role_only(['public.is_data_stale' ~ suffix ~ '(timestamptz, integer)']) }}
