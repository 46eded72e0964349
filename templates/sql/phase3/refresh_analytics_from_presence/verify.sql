SELECT toolkit.check(to_regclass('public.presence_analytics{{ suffix }}') IS NOT NULL, 'presence_analytics{{ suffix }} exists');
SELECT toolkit.check((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.presence_analytics{{ suffix }}'::regclass),
                     'RLS on presence_analytics{{ suffix }}');
SELECT toolkit.check(NOT has_table_privilege(r, 'public.presence_analytics{{ suffix }}', 'SELECT'),
                     r || ' cannot read presence_analytics{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r;
SELECT toolkit.check_private_function('public.refresh_analytics_from_presence{{ suffix }}()');
DO $$
BEGIN
    INSERT INTO public.active_subscriptions{{ suffix }} (user_id, symbol, data_types)
    VALUES ('00000000-0000-4000-8000-00000000a001', 'VRFY', ARRAY['quote', 'profile']),
           ('00000000-0000-4000-8000-00000000a002', 'VRFY', ARRAY['quote']);
    PERFORM public.refresh_analytics_from_presence{{ suffix }}();
    PERFORM toolkit.check((SELECT viewers = 2 FROM public.presence_analytics{{ suffix }}
                           WHERE symbol = 'VRFY' AND data_type = 'quote'),
                          'refresh_analytics_from_presence{{ suffix }} counts viewers per symbol and type');
END
$$;
