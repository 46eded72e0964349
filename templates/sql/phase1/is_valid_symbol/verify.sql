SELECT toolkit.check(to_regprocedure(f) IS NOT NULL, 'function ' || f || ' exists')
FROM unnest(ARRAY['public.is_valid_symbol(text)', 'public.symbol_error(text)']) AS f;
SELECT toolkit.check(p.provolatile = 'i' AND NOT p.proisstrict AND 'search_path=""' = ANY (p.proconfig),
                     'public.is_valid_symbol(text) is IMMUTABLE, not STRICT, with an empty search_path')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_valid_symbol(text)'::regprocedure;
SELECT toolkit.check(NOT has_function_privilege(r, 'public.is_valid_symbol(text)', 'EXECUTE'),
                     r || ' cannot execute public.is_valid_symbol(text)')
FROM unnest(ARRAY['anon', 'authenticated']) AS r;
SELECT toolkit.check(
    count(*) = 0,
    'public.is_valid_symbol(text) misjudges: '
        || coalesce(string_agg(coalesce(quote_literal(c.input), 'NULL') || ' (expected ' || c.expected || ')', ', '), ''))
FROM (VALUES ('AAPL', true), ('BRK.B', true), ('BF-B', true), ('^GSPC', false), ('0700.HK', true),
             (repeat('A', 12), true), (repeat('A', 13), false), ('', false), (NULL, false), ('aapl', false),
             ('.A', false), ('-A', false), ('A B', false), ('AAPL; DROP', false), ('*', false),
             (CASE WHEN current_setting('server_encoding') = 'UTF8' THEN 'AAPL' || chr(8203) END, false)) AS c(input, expected)
WHERE public.is_valid_symbol(c.input) IS DISTINCT FROM c.expected;
SELECT toolkit.check(public.symbol_error('AAPL') IS NULL AND public.symbol_error('x y') LIKE '''x y'' is not a ticker symbol (%',
                     'public.symbol_error(text) names the refused symbol and the rule');
