{% from '_macros.sql' import service_role_only -%}
-- The ticker-symbol rule, the one every SQL entry point calls (rendered from toolkit.rules,
-- which the Python and TypeScript checks are tested against). IMMUTABLE: it reads nothing.
-- Not STRICT: NULL answers false, so callers can write IF NOT ...
CREATE OR REPLACE FUNCTION public.is_valid_symbol(p_symbol text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = ''
AS $$
    SELECT coalesce(p_symbol OPERATOR(pg_catalog.~) '{{ rules.symbol_pattern }}', false)
$$;

-- The one message for a refused symbol.
CREATE OR REPLACE FUNCTION public.symbol_error(p_symbol text)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = ''
AS $$
    SELECT CASE WHEN NOT public.is_valid_symbol(p_symbol) THEN
        pg_catalog.quote_nullable(CASE WHEN pg_catalog.length(p_symbol) > 40
                                       THEN pg_catalog.left(p_symbol, 40) || '...' ELSE p_symbol END)
        || ' is not a ticker symbol ({{ rules.symbol_rule }})' END
$$;

{{ service_role_only(['public.is_valid_symbol(text)', 'public.symbol_error(text)']) }}
