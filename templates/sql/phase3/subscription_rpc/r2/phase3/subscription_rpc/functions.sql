{% from '_macros.sql' import private_definer, service_role_only -%}
-- The two RPCs (deploy.sql and its upgrades include this file).

-- The viewer's page shows p_symbol with these data types: check the request, count it against
-- the user's limit, record the subscription (heartbeat), and queue whatever of it is stale. Returns
-- {"status": "tracked" | "rate_limited" | "invalid", ...}; never raises for bad input, so the
-- function can answer the page precisely.
{% call private_definer('public.track_subscription' ~ suffix,
                        'p_user_id uuid, p_symbol text, p_data_types text[]', returns='jsonb') %}
DECLARE
    scfg    public.staleness_config{{ suffix }};
    used    integer;
    started timestamptz;
    types   text[];
    unknown text;
    queued  jsonb;
BEGIN
    IF p_user_id IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'no user');
    END IF;
    SELECT * INTO STRICT scfg FROM public.staleness_config{{ suffix }};
    IF NOT public.is_valid_symbol(p_symbol) THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', public.symbol_error(p_symbol));
    END IF;
    SELECT pg_catalog.array_agg(DISTINCT t ORDER BY t) INTO types FROM pg_catalog.unnest(p_data_types) AS t;
    IF types IS NULL OR pg_catalog.cardinality(types) = 0 THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'no data types');
    END IF;
    SELECT t INTO unknown FROM pg_catalog.unnest(types) AS t
    WHERE t IS NULL OR NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r WHERE r.data_type = t)
    LIMIT 1;
    IF FOUND THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'unknown data type',
                                             'data_type', pg_catalog.left(unknown, 40));
    END IF;

    -- Only a valid request counts against the user's limit: a page sending something wrong is
    -- told so every time, and its mistakes do not lock the user out of tracking.
    INSERT INTO public.subscription_rate_limits{{ suffix }} AS l (user_id, window_start, calls)
    VALUES (p_user_id, pg_catalog.date_trunc('minute', pg_catalog.now()), 1)
    ON CONFLICT (user_id) DO UPDATE
    SET calls = CASE WHEN l.window_start = excluded.window_start THEN l.calls + 1 ELSE 1 END,
        window_start = excluded.window_start
    RETURNING l.calls, l.window_start INTO used, started;
    IF used > scfg.track_rate_limit_per_minute THEN
        RETURN pg_catalog.jsonb_build_object('status', 'rate_limited',
            'retry_after', GREATEST(1, pg_catalog.ceil(EXTRACT(epoch FROM started + interval '1 minute' - pg_catalog.now())))::integer);
    END IF;

    INSERT INTO public.active_subscriptions{{ suffix }} AS s (user_id, symbol, data_types, last_seen)
    VALUES (p_user_id, p_symbol, types, pg_catalog.now())
    ON CONFLICT (user_id, symbol) DO UPDATE SET data_types = excluded.data_types, last_seen = excluded.last_seen;

    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('data_type', b.data_type, 'outcome', b.outcome)), '[]')
    INTO queued
    FROM public.check_and_queue_stale_batch{{ suffix }}(p_symbol, types, 0) AS b
    WHERE b.stale;
    RETURN pg_catalog.jsonb_build_object('status', 'tracked', 'symbol', p_symbol, 'data_types', types, 'queued', queued);
END
{% endcall %}

{% call private_definer('public.untrack_subscription' ~ suffix, 'p_user_id uuid, p_symbol text',
                        returns='jsonb', language='sql') %}
    WITH gone AS (
        DELETE FROM public.active_subscriptions{{ suffix }} AS s
        WHERE s.user_id = p_user_id AND s.symbol = p_symbol
        RETURNING 1
    )
    SELECT pg_catalog.jsonb_build_object('status', 'untracked', 'removed', (SELECT count(*) FROM gone))
{% endcall %}

{{ service_role_only(['public.track_subscription' ~ suffix ~ '(uuid, text, text[])',
                      'public.untrack_subscription' ~ suffix ~ '(uuid, text)']) }}
