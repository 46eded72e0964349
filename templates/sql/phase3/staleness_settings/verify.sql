SELECT toolkit.check(to_regclass(t) IS NOT NULL, t || ' exists')
FROM unnest(ARRAY['public.staleness_config{{ suffix }}', 'public.staleness_state{{ suffix }}']) AS t;
SELECT toolkit.check(
    (SELECT c.subscription_ttl_seconds = (toolkit.param('settings', 'staleness') ->> 'subscription_ttl_seconds')::integer
     FROM public.staleness_config{{ suffix }} AS c),
    'staleness_config{{ suffix }} matches the plan''s settings');
SELECT toolkit.check(c.relrowsecurity, 'RLS on ' || c.relname)
FROM pg_class AS c WHERE c.oid IN ('public.staleness_config{{ suffix }}'::regclass, 'public.staleness_state{{ suffix }}'::regclass);
SELECT toolkit.check(NOT has_table_privilege(r, t, 'SELECT'), r || ' cannot read ' || t)
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.staleness_config{{ suffix }}', 'public.staleness_state{{ suffix }}']) AS t;
SELECT toolkit.check(public.registry_identifiers_valid{{ suffix }}('stock_quotes', 'symbol', 'updated_at')
                     AND NOT public.registry_identifiers_valid{{ suffix }}('stock_quotes; drop table x', 'symbol', 'updated_at')
                     AND NOT public.registry_identifiers_valid{{ suffix }}('stock_quotes', 'symbol"--', 'updated_at'),
                     'registry_identifiers_valid{{ suffix }} rejects injection strings');
