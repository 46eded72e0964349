SELECT toolkit.check_private_function('public.is_valid_identifier(text)', definer => false);

SELECT toolkit.check(p.provolatile = 's' AND NOT p.proisstrict AND p.prorettype = 'boolean'::regtype,
                     'public.is_valid_identifier(text) is STABLE, not STRICT, returns boolean')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_valid_identifier(text)'::regprocedure;

-- Behaviour: one check over a table of cases; the message lists every case it got wrong.
SELECT toolkit.check(
    count(*) = 0,
    'public.is_valid_identifier(text) misjudges: '
        || coalesce(string_agg(coalesce(quote_literal(c.input), 'NULL') || ' (expected ' || c.expected || ')', ', '), ''))
FROM (VALUES
    ('stock_quotes', true),
    ('updated_at', true),
    ('_x1', true),
    ('StockQuotes', true),
    (repeat('a', 63), true),
    (NULL, false),
    ('', false),
    ('select', false),
    ('SELECT', false),
    ('table', false),
    ('1abc', false),
    ('a b', false),
    ('x;drop table y', false),
    ('"quoted"', false),
    ('a.b', false),
    (repeat('a', 64), false),
    ('tbl--', false),
    ('tbl' || chr(10), false),
    -- Lookalikes built from UTF-8 bytes: an E'\u...' literal would not even parse in a
    -- non-UTF8 database; there they degrade to NULL, which must be rejected too.
    -- stock + Cyrillic ie
    (CASE WHEN current_setting('server_encoding') = 'UTF8' THEN convert_from(decode('73746f636bd0b5', 'hex'), 'UTF8') END, false),
    -- Cyrillic dze (looks like s) + tock_quotes
    (CASE WHEN current_setting('server_encoding') = 'UTF8' THEN convert_from(decode('d195746f636b5f71756f746573', 'hex'), 'UTF8') END, false),
    -- stock + fullwidth low line + quotes
    (CASE WHEN current_setting('server_encoding') = 'UTF8' THEN convert_from(decode('73746f636befbcbf71756f746573', 'hex'), 'UTF8') END, false),
    -- caf + e acute
    (CASE WHEN current_setting('server_encoding') = 'UTF8' THEN convert_from(decode('636166c3a9', 'hex'), 'UTF8') END, false)
) AS c(input, expected)
WHERE public.is_valid_identifier(c.input) IS DISTINCT FROM c.expected;
