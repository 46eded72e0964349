{% from '_macros.sql' import private_definer, service_role_only -%}
-- The two RPCs (deploy.sql and its upgrades include this file).

-- The viewer's page shows p_symbol with these data types: check the request, count it against
-- the user's limit, record the subscription (heartbeat), and queue whatever of it is stale. Returns
-- {"status": "tracked" | "rate_limited" | "invalid", ...}; never raises for bad input, so the
-- function can answer the page precisely.
--
-- Every viewer calls this about once a minute, so the usual call (everything fresh) is kept to
-- a few statements with cached plans and one dynamic one: the freshness of all the requested
-- types, read in one statement (a UNION ALL of each type's newest timestamp for the symbol,
-- its names quoted with format('%I'); the registry's CHECKs hold them to plain identifiers).
-- That statement is prepared once per database session and set of types (PREPARE is not
-- transactional, and is named by the statement's hash), so that a call does not plan it
-- again; a prepared statement of that name but another text is replaced, and one prepared
-- for a table since changed is planned again by PostgreSQL itself.
-- Only the types it finds stale (all of them, when that statement fails) go on to
-- check_and_queue_stale_batch{{ suffix }}, which validates every identifier, consults the flags,
-- checks each type on its own (a fault counts as stale, and is logged) and queues. What a page
-- asks for itself (opening, or a heartbeat finding its data stale) is queued above the presence
-- check's refreshes (rules.py: PAGE_OPEN_BOOST), so that when the call budget is short the
-- viewer who waits on this answer goes first.
{% call private_definer('public.track_subscription' ~ suffix,
                        'p_user_id uuid, p_symbol text, p_data_types text[]', returns='jsonb') %}
DECLARE
    per_min  integer;
    used     integer;
    started  timestamptz;
    types    text[];
    unknown  integer;
    first_u  text;
    check_q  text;
    prepared text;
    stale    text[];
    waiting  text[];
    queued   jsonb := '[]'::jsonb;
BEGIN
    IF p_user_id IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'no user');
    END IF;
    IF NOT public.is_valid_symbol(p_symbol) THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', public.symbol_error(p_symbol));
    END IF;
    -- The requested types, which of them the registry does not know, and the freshness query
    -- of the known ones, in one read of the registry.
    SELECT pg_catalog.array_agg(u.t ORDER BY u.t), count(*) FILTER (WHERE r.data_type IS NULL),
           (pg_catalog.array_agg(u.t ORDER BY u.t) FILTER (WHERE r.data_type IS NULL))[1],
           pg_catalog.string_agg(pg_catalog.format(
               'SELECT %L::text, (SELECT max(t.%I) FROM public.%I AS t%s), %s',
               r.data_type, r.timestamp_column, r.target_table,
               CASE WHEN r.key_column IS NULL THEN '' ELSE pg_catalog.format(' WHERE t.%I = $1', r.key_column) END,
               r.ttl_seconds), ' UNION ALL ' ORDER BY u.t) FILTER (WHERE r.data_type IS NOT NULL)
    INTO types, unknown, first_u, check_q
    FROM (SELECT DISTINCT t FROM pg_catalog.unnest(p_data_types) AS t) AS u
    LEFT JOIN public.data_type_registry{{ suffix }} AS r ON r.data_type = u.t;
    IF types IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'no data types');
    END IF;
    IF unknown > 0 THEN
        RETURN pg_catalog.jsonb_build_object('status', 'invalid', 'error', 'unknown data type',
                                             'data_type', pg_catalog.left(first_u, 40));
    END IF;

    -- Only a valid request counts against the user's limit: a page sending something wrong is
    -- told so every time, and its mistakes do not lock the user out of tracking.
    SELECT c.track_rate_limit_per_minute INTO STRICT per_min FROM public.staleness_config{{ suffix }} AS c;
    INSERT INTO public.subscription_rate_limits{{ suffix }} AS l (user_id, window_start, calls)
    VALUES (p_user_id, pg_catalog.date_trunc('minute', pg_catalog.now()), 1)
    ON CONFLICT (user_id) DO UPDATE
    SET calls = CASE WHEN l.window_start = excluded.window_start THEN l.calls + 1 ELSE 1 END,
        window_start = excluded.window_start
    RETURNING l.calls, l.window_start INTO used, started;
    IF used > per_min THEN
        RETURN pg_catalog.jsonb_build_object('status', 'rate_limited',
            'retry_after', GREATEST(1, pg_catalog.ceil(EXTRACT(epoch FROM started + interval '1 minute' - pg_catalog.now())))::integer);
    END IF;

    INSERT INTO public.active_subscriptions{{ suffix }} AS s (user_id, symbol, data_types, last_seen)
    VALUES (p_user_id, p_symbol, types, pg_catalog.now())
    ON CONFLICT (user_id, symbol) DO UPDATE SET data_types = excluded.data_types, last_seen = excluded.last_seen;

    BEGIN
        check_q := 'SELECT pg_catalog.array_agg(f.data_type) FROM (' || check_q || ') AS f(data_type, last_at, ttl) '
                   'WHERE public.is_data_stale{{ suffix }}(f.last_at, f.ttl)';
        prepared := 'track_freshness_' || pg_catalog.md5(check_q);
        check_q := 'PREPARE ' || prepared || '(text) AS ' || check_q;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements AS ps
                       WHERE ps.name = prepared AND ps.statement = check_q) THEN
            IF EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements AS ps WHERE ps.name = prepared) THEN
                EXECUTE 'DEALLOCATE ' || prepared;
            END IF;
            EXECUTE check_q;
        END IF;
        EXECUTE 'EXECUTE ' || prepared || '(' || pg_catalog.quote_literal(p_symbol) || ')' INTO stale;
    EXCEPTION WHEN OTHERS THEN
        stale := types;  -- fail-safe: each type is checked again on its own below
    END;
    IF stale IS NOT NULL THEN
        -- Usually a stale type's job is already waiting, queued by the first viewer who found
        -- it stale: one look at the pending jobs' key finds it, and it is reported as it is
        -- when its priority is already this call's. The others go the whole way.
        SELECT pg_catalog.array_agg(r.data_type ORDER BY r.data_type) INTO waiting
        FROM public.data_type_registry{{ suffix }} AS r
        JOIN public.api_call_queue{{ suffix }}_pending AS q
          ON q.symbol = CASE WHEN r.key_column IS NULL THEN '*' ELSE p_symbol END AND q.data_type = r.data_type
        WHERE r.data_type = ANY (stale) AND q.priority >= r.priority + {{ rules.page_open_boost }};
        SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('data_type', w.t, 'outcome', 'exists')), '[]')
        INTO queued
        FROM pg_catalog.unnest(waiting) AS w(t);
        stale := ARRAY(SELECT t FROM pg_catalog.unnest(stale) AS t WHERE t <> ALL (COALESCE(waiting, '{}'::text[])));
        IF pg_catalog.cardinality(stale) > 0 THEN
            SELECT queued || COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('data_type', b.data_type,
                                                                                           'outcome', b.outcome)), '[]')
            INTO queued
            FROM public.check_and_queue_stale_batch{{ suffix }}(p_symbol, stale, {{ rules.page_open_boost }}) AS b
            WHERE b.stale;
        END IF;
    END IF;
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
