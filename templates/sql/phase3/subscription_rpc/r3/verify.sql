SELECT toolkit.check(to_regclass('public.subscription_rate_limits{{ suffix }}') IS NOT NULL, 'subscription_rate_limits{{ suffix }} exists');
SELECT toolkit.check((SELECT relrowsecurity FROM pg_class WHERE oid = 'public.subscription_rate_limits{{ suffix }}'::regclass),
                     'RLS on subscription_rate_limits{{ suffix }}');
SELECT toolkit.check_private_function('public.track_subscription{{ suffix }}(uuid, text, text[])');
SELECT toolkit.check_private_function('public.untrack_subscription{{ suffix }}(uuid, text)');
DO $$
DECLARE
    u uuid := '00000000-0000-4000-8000-0000000000f1';
    limit_ integer;
    r jsonb;
BEGIN
    SELECT track_rate_limit_per_minute INTO limit_ FROM public.staleness_config{{ suffix }};
    r := public.track_subscription{{ suffix }}(u, 'VRFY', ARRAY['quote']);
    PERFORM toolkit.check(r ->> 'status' = 'tracked', 'track_subscription{{ suffix }} tracks: ' || r::text);
    PERFORM toolkit.check(public.track_subscription{{ suffix }}(u, 'x; drop', ARRAY['quote']) ->> 'status' = 'invalid',
                          'track_subscription{{ suffix }} refuses a bad symbol');
    PERFORM toolkit.check(public.track_subscription{{ suffix }}(u, 'VRFY', ARRAY['nope']) ->> 'status' = 'invalid',
                          'track_subscription{{ suffix }} refuses an unknown data type');
    FOR i IN 1 .. limit_ LOOP
        r := public.track_subscription{{ suffix }}(u, 'VRFY', ARRAY['quote']);
    END LOOP;
    PERFORM toolkit.check(r ->> 'status' = 'rate_limited', 'track_subscription{{ suffix }} enforces the per-user limit');
    PERFORM toolkit.check((public.untrack_subscription{{ suffix }}(u, 'VRFY') ->> 'removed')::integer = 1,
                          'untrack_subscription{{ suffix }} removes the subscription');
END
$$;
