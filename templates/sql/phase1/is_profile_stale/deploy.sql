{% from '_macros.sql' import service_role_only -%}
-- A company profile is also stale when it lacks its core fields (a partial fetch), however
-- recent it is. TTL handling is delegated so there is one rule and one validation; no
-- parameter defaults, for the same reason as is_data_stale{{ suffix }}.
CREATE OR REPLACE FUNCTION public.is_profile_stale{{ suffix }}(
    p_last_updated    timestamptz,
    p_ttl_seconds     integer,
    p_has_core_fields boolean
)
RETURNS boolean
LANGUAGE plpgsql
STABLE
PARALLEL SAFE
SET search_path = ''
AS $$
DECLARE
    -- Evaluated first and unconditionally: a bad TTL must raise even for a profile that
    -- is stale anyway, or the caller's bug would hide until the core fields are present.
    v_stale boolean := public.is_data_stale{{ suffix }}(p_last_updated, p_ttl_seconds);
BEGIN
    RETURN v_stale OR p_has_core_fields IS NOT TRUE;
END
$$;

{{ service_role_only(['public.is_profile_stale' ~ suffix ~ '(timestamptz, integer, boolean)']) }}
