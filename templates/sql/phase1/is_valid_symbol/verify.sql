SELECT toolkit.check_private_function('public.is_valid_symbol(text)', definer => false);
SELECT toolkit.check_private_function('public.symbol_error(text)', definer => false);
SELECT toolkit.check(p.provolatile = 'i' AND NOT p.proisstrict,
                     'public.is_valid_symbol(text) is IMMUTABLE, not STRICT')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_valid_symbol(text)'::regprocedure;
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
