{% from '_macros.sql' import private_definer, service_role_only -%}
-- What no viewer asks for: scheduled types (exchange market status) and a background
-- refresh of symbols that are tracked but not viewed right now. Everything it queues has
-- priority -1, below any viewer's request, so it only ever uses spare budget; it runs at
-- most every scheduled_min_interval_seconds, queues at most scheduled_max_jobs, only while
-- min_quota_headroom of both budgets is left, one run at a time (advisory lock 43).
{% call private_definer('public.queue_scheduled_refreshes' ~ suffix, returns='jsonb') %}
DECLARE
    cfg      public.queue_config{{ suffix }};
    scfg     public.staleness_config{{ suffix }};
    st       public.staleness_state{{ suffix }};
    quota    jsonb;
    reg      record;
    last_at  timestamptz;
    syms     text[] := '{}'::text[];
    types    text[] := '{}'::text[];
    room     integer;
    got      text[];
    queued   bigint := 0;
    result   jsonb;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT scfg FROM public.staleness_config{{ suffix }};
    IF NOT pg_catalog.pg_try_advisory_xact_lock(cfg.scheduled_lock_id) THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason',
            pg_catalog.format('another run holds advisory lock %s', cfg.scheduled_lock_id));
    END IF;
    SELECT * INTO STRICT st FROM public.staleness_state{{ suffix }} FOR UPDATE;
{%- if flag_checks %}
    IF NOT public.is_feature_enabled('use_queue_system') THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'use_queue_system is off');
    END IF;
{%- endif %}
    IF st.last_scheduled_run_at > pg_catalog.now() - pg_catalog.make_interval(secs => scfg.scheduled_min_interval_seconds) THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'throttled',
            'next_at', st.last_scheduled_run_at + pg_catalog.make_interval(secs => scfg.scheduled_min_interval_seconds));
    END IF;
    quota := public.get_quota_status{{ suffix }}();
    IF (quota ->> 'calls_left')::numeric < scfg.min_quota_headroom * (quota ->> 'calls_limit')::numeric
       OR (quota ->> 'bytes_left')::numeric < scfg.min_quota_headroom * (quota ->> 'bytes_limit')::numeric THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'not enough quota headroom', 'quota', quota);
    END IF;

    -- Scheduled types: every key whose data is stale ('*' for a global type or an empty table).
    FOR reg IN
        SELECT r.* FROM public.data_type_registry{{ suffix }} AS r
        WHERE r.refresh_strategy = 'scheduled'{% if flag_checks %} AND public.is_feature_enabled(r.feature_flag){% endif %}
          AND public.registry_identifiers_valid{{ suffix }}(r.target_table, r.key_column, r.timestamp_column)
        ORDER BY r.priority DESC, r.data_type
    LOOP
        room := scfg.scheduled_max_jobs - pg_catalog.cardinality(types);
        EXIT WHEN room <= 0;
        BEGIN
            got := NULL;
            IF reg.key_column IS NOT NULL THEN
                EXECUTE pg_catalog.format(
                    'SELECT pg_catalog.array_agg(k) FROM (SELECT t.%1$I AS k FROM public.%2$I AS t GROUP BY t.%1$I
                     HAVING public.is_data_stale{{ suffix }}(max(t.%3$I), $1) ORDER BY max(t.%3$I) NULLS FIRST LIMIT $2) AS s',
                    reg.key_column, reg.target_table, reg.timestamp_column)
                INTO got USING reg.ttl_seconds, room;
            END IF;
            IF got IS NULL THEN
                EXECUTE pg_catalog.format('SELECT max(t.%I) FROM public.%I AS t', reg.timestamp_column, reg.target_table)
                INTO last_at;
                IF last_at IS NULL OR (reg.key_column IS NULL AND public.is_data_stale{{ suffix }}(last_at, reg.ttl_seconds)) THEN
                    got := ARRAY['*'];
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            PERFORM public.log_ops_event('staleness', 'warning', 'scheduled freshness check failed; treated as stale',
                pg_catalog.jsonb_build_object('data_type', reg.data_type, 'sqlstate', SQLSTATE, 'error', SQLERRM));
            got := ARRAY['*'];
        END;
        IF got IS NOT NULL THEN
            syms := syms || got;
            types := types || pg_catalog.array_fill(reg.data_type, ARRAY[pg_catalog.cardinality(got)]);
        END IF;
    END LOOP;

    -- Background: a sample of tracked subscriptions nobody is viewing now; their stale
    -- on-demand types, oldest data first.
    room := scfg.scheduled_max_jobs - pg_catalog.cardinality(types);
    IF room > 0 THEN
        DROP TABLE IF EXISTS pg_temp.background_pairs;
        CREATE TEMP TABLE background_pairs (symbol text NOT NULL, data_type text NOT NULL, last_at timestamptz)
            ON COMMIT DROP;
        -- A no-op when run: tells plpgsql_check the temporary table's shape, so that it checks
        -- the statements that use it.
        PERFORM 'PRAGMA:TABLE: background_pairs (symbol text, data_type text, last_at timestamptz)';
        INSERT INTO pg_temp.background_pairs (symbol, data_type)
        SELECT DISTINCT s.symbol, t.data_type
        FROM public.active_subscriptions{{ suffix }} AS s TABLESAMPLE BERNOULLI (scfg.background_sample_percent)
        CROSS JOIN LATERAL pg_catalog.unnest(s.data_types) AS t(data_type)
        WHERE s.last_seen <= pg_catalog.now() - pg_catalog.make_interval(secs => scfg.subscription_ttl_seconds)
          AND NOT EXISTS (SELECT 1 FROM public.active_subscriptions{{ suffix }} AS v
                          WHERE v.symbol = s.symbol
                            AND v.last_seen > pg_catalog.now() - pg_catalog.make_interval(secs => scfg.subscription_ttl_seconds));
        FOR reg IN
            SELECT r.* FROM public.data_type_registry{{ suffix }} AS r
            WHERE r.refresh_strategy = 'on-demand' AND r.key_column IS NOT NULL
{%- if flag_checks %}
              AND public.is_feature_enabled(r.feature_flag)
{%- endif %}
              AND public.registry_identifiers_valid{{ suffix }}(r.target_table, r.key_column, r.timestamp_column)
              AND EXISTS (SELECT 1 FROM pg_temp.background_pairs AS b WHERE b.data_type = r.data_type)
        LOOP
            BEGIN
                EXECUTE pg_catalog.format(
                    'UPDATE pg_temp.background_pairs AS b SET last_at = (SELECT max(t.%1$I) FROM public.%2$I AS t WHERE t.%3$I = b.symbol)
                     WHERE b.data_type = $1',
                    reg.timestamp_column, reg.target_table, reg.key_column)
                USING reg.data_type;
                DELETE FROM pg_temp.background_pairs AS b
                WHERE b.data_type = reg.data_type AND NOT public.is_data_stale{{ suffix }}(b.last_at, reg.ttl_seconds);
            EXCEPTION WHEN OTHERS THEN
                PERFORM public.log_ops_event('staleness', 'warning', 'background freshness check failed; skipped',
                    pg_catalog.jsonb_build_object('data_type', reg.data_type, 'sqlstate', SQLSTATE, 'error', SQLERRM));
                DELETE FROM pg_temp.background_pairs AS b WHERE b.data_type = reg.data_type;
            END;
        END LOOP;
        DELETE FROM pg_temp.background_pairs AS b
        WHERE NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r
                          WHERE r.data_type = b.data_type AND r.refresh_strategy = 'on-demand' AND r.key_column IS NOT NULL
{%- if flag_checks %}
                            AND public.is_feature_enabled(r.feature_flag)
{%- endif %});
        SELECT syms || COALESCE(pg_catalog.array_agg(p.symbol), '{}'), types || COALESCE(pg_catalog.array_agg(p.data_type), '{}')
        INTO syms, types
        FROM (SELECT b.symbol, b.data_type FROM pg_temp.background_pairs AS b
              ORDER BY b.last_at NULLS FIRST, b.symbol, b.data_type LIMIT room) AS p;
    END IF;

    IF pg_catalog.cardinality(types) > 0 THEN
        -- Priority -1: below every viewer's request, and never raising a pending job.
        SELECT count(*) INTO queued
        FROM public.queue_refreshes{{ suffix }}(syms, types, pg_catalog.array_fill(-1, ARRAY[pg_catalog.cardinality(types)])) AS q
        WHERE q.outcome = 'queued';
    END IF;
    result := pg_catalog.jsonb_build_object('action', 'queued', 'candidates', pg_catalog.cardinality(types), 'queued', queued);
    UPDATE public.staleness_state{{ suffix }} SET last_scheduled_run_at = pg_catalog.now(), last_scheduled_result = result;
    RETURN result;
END
{% endcall %}

{{ service_role_only(['public.queue_scheduled_refreshes' ~ suffix ~ '()']) }}
