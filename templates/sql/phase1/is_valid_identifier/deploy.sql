{% from '_macros.sql' import service_role_only -%}
-- Gate for names that reach dynamic SQL (table and column names read from the registry).
-- Deliberately narrower than what PostgreSQL accepts: ASCII only, no quoting, no schema
-- qualification, at most 63 bytes (NAMEDATALEN - 1, beyond which PostgreSQL truncates
-- silently), and no reserved keyword. STABLE, not IMMUTABLE: pg_get_keywords() is STABLE.
-- Not STRICT: NULL must answer false, never NULL, so callers can write IF NOT ...
CREATE OR REPLACE FUNCTION public.is_valid_identifier(p_name text)
RETURNS boolean
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = ''
AS $$
    SELECT coalesce(
        p_name OPERATOR(pg_catalog.~) '^[A-Za-z_][A-Za-z0-9_]{0,62}$'
        AND NOT EXISTS (
            SELECT FROM pg_catalog.pg_get_keywords() AS k
            WHERE k.catcode OPERATOR(pg_catalog.=) 'R'
              AND k.word OPERATOR(pg_catalog.=) pg_catalog.lower(p_name)
        ),
        false)
$$;

{{ service_role_only(['public.is_valid_identifier(text)']) }}
