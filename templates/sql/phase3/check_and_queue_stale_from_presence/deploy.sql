{% from '_macros.sql' import private_definer, service_role_only -%}
-- "HTTP error checking": in postgres scheduler mode the processor is called through pg_net,
-- whose answers land in net._http_response. A new answer to the loop's last request that is
-- not a 2xx (or a transport error) is a run that could not run, and feeds the circuit breaker
-- as a failed run; a 2xx means the processor ran and reported its run to the breaker itself.
-- Returns the breaker's state. Without pg_net there is nothing to read.
{% call private_definer('public.check_processor_responses' ~ suffix, returns='text') %}
DECLARE
    request bigint;
    seen    bigint;
    status  integer;
    failure text;
    found_  boolean;
BEGIN
    IF pg_catalog.to_regclass('net._http_response') IS NULL THEN
        RETURN 'no pg_net';
    END IF;
    SELECT (p.last_result ->> 'request_id')::bigint INTO request FROM public.processor_state{{ suffix }} AS p;
    SELECT s.last_checked_request_id INTO seen FROM public.staleness_state{{ suffix }} AS s FOR UPDATE;
    IF request IS NULL OR request IS NOT DISTINCT FROM seen THEN
        RETURN 'nothing new';
    END IF;
    EXECUTE 'SELECT true, r.status_code, r.error_msg FROM net._http_response AS r WHERE r.id = $1'
    INTO found_, status, failure USING request;
    IF found_ IS NULL THEN
        RETURN 'pending';
    END IF;
    UPDATE public.staleness_state{{ suffix }} SET last_checked_request_id = request;
    IF failure IS NULL AND status BETWEEN 200 AND 299 THEN
        RETURN (SELECT p.breaker_state FROM public.processor_state{{ suffix }} AS p);
    END IF;
    RETURN public.record_processor_result{{ suffix }}(false, COALESCE(failure, 'HTTP ' || status), 0, 0);
END
{% endcall %}

-- Every minute: what users are viewing right now, checked for staleness, queued.
-- Refresh ahead: what more than one viewer watches (a global type: anyone) and will turn stale
-- before the next run (expected as long from now as the last run was ago, at most a
-- subscription's TTL) is queued too, due at the moment it turns stale. So popular data does not
-- go stale between runs (the next page opened on it is likely soon), and those calls spread
-- over the minute as the data ages instead of coming as one burst after each run, which would
-- spend the budget that pages being opened need (they are queued above these: rules.py). What
-- one viewer watches is refreshed once it is stale: ahead of time, most such calls would serve
-- nobody's next page.
-- One run at a time (advisory lock 42: an overlapping run returns at once); nothing when
-- the queue system is off or the budget is spent. Active subscriptions go into an indexed
-- temporary table; freshness is read per data type with one set-based statement (a fault
-- in one type's table is logged and its pairs count as stale); stale pairs are queued in
-- chunks of symbols, and a chunk that fails is retried symbol by symbol so that one bad
-- symbol cannot hold back the others.
{% call private_definer('public.check_and_queue_stale_data_from_presence' ~ suffix, returns='jsonb') %}
DECLARE
    cfg      public.queue_config{{ suffix }};
    scfg     public.staleness_config{{ suffix }};
    reg      record;
    chunk    record;
    one      record;
    pairs    bigint;
    n_stale  bigint;
    queued   bigint := 0;
    errors   integer := 0;
    refused  text[] := '{}'::text[];
    last_at  timestamptz;
    ahead    interval;
    q_ids    bigint[] := '{}'::bigint[];
    n_ahead  bigint;
    result   jsonb;
BEGIN
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    SELECT * INTO STRICT scfg FROM public.staleness_config{{ suffix }};
    IF NOT pg_catalog.pg_try_advisory_xact_lock(cfg.presence_lock_id) THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason',
            pg_catalog.format('another run holds advisory lock %s', cfg.presence_lock_id));
    END IF;
    PERFORM public.check_processor_responses{{ suffix }}();
    SELECT pg_catalog.make_interval(secs => LEAST(GREATEST(EXTRACT(epoch FROM pg_catalog.now() - st.last_presence_run_at), 0),
                                                 scfg.subscription_ttl_seconds))
    INTO ahead FROM public.staleness_state{{ suffix }} AS st;
    ahead := COALESCE(ahead, interval '0');
{%- if flag_checks %}
    IF NOT public.is_feature_enabled('use_queue_system') THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'use_queue_system is off');
    END IF;
{%- endif %}
    IF public.is_quota_exceeded{{ suffix }}() THEN
        RETURN pg_catalog.jsonb_build_object('action', 'skipped', 'reason', 'quota exhausted');
    END IF;

    -- The temporary tables exist only while this runs; the PRAGMA strings (no-ops when run) tell
    -- plpgsql_check their shape, so that it checks the statements that use them.
    DROP TABLE IF EXISTS pg_temp.presence_active;
    CREATE TEMP TABLE presence_active (symbol text NOT NULL, data_type text NOT NULL, viewers integer NOT NULL)
        ON COMMIT DROP;
    PERFORM 'PRAGMA:TABLE: presence_active (symbol text, data_type text, viewers integer)';
    INSERT INTO pg_temp.presence_active (symbol, data_type, viewers)
    SELECT s.symbol, t.data_type, count(*)::integer
    FROM public.active_subscriptions{{ suffix }} AS s
    CROSS JOIN LATERAL pg_catalog.unnest(s.data_types) AS t(data_type)
    WHERE s.last_seen > pg_catalog.now() - pg_catalog.make_interval(secs => scfg.subscription_ttl_seconds)
    GROUP BY s.symbol, t.data_type;
    GET DIAGNOSTICS pairs = ROW_COUNT;
    CREATE INDEX ON pg_temp.presence_active (data_type, symbol);
    ANALYZE pg_temp.presence_active;

    DROP TABLE IF EXISTS pg_temp.presence_stale;
    CREATE TEMP TABLE presence_stale (symbol text NOT NULL, data_type text NOT NULL, priority integer NOT NULL,
                                      due_at timestamptz NOT NULL)
        ON COMMIT DROP;
    PERFORM 'PRAGMA:TABLE: presence_stale (symbol text, data_type text, priority integer, due_at timestamptz)';

    FOR reg IN
        SELECT r.* FROM public.data_type_registry{{ suffix }} AS r
        WHERE r.refresh_strategy = 'on-demand'
          AND EXISTS (SELECT 1 FROM pg_temp.presence_active AS a WHERE a.data_type = r.data_type)
{%- if flag_checks %}
          AND public.is_feature_enabled(r.feature_flag)
{%- endif %}
        ORDER BY r.priority DESC, r.data_type
    LOOP
        IF NOT public.registry_identifiers_valid{{ suffix }}(reg.target_table, reg.key_column, reg.timestamp_column) THEN
            refused := refused || reg.data_type;
            PERFORM public.log_ops_event('staleness', 'error', 'registry row refused: invalid identifier',
                                         pg_catalog.jsonb_build_object('data_type', reg.data_type));
            CONTINUE;
        END IF;
        BEGIN
            IF reg.key_column IS NULL THEN
                -- A global type: one freshness, one job ('*') whoever views it. Stale by then
                -- is stale now for data that much older.
                EXECUTE pg_catalog.format('SELECT max(t.%I) FROM public.%I AS t', reg.timestamp_column, reg.target_table)
                INTO last_at;
                IF public.is_data_stale{{ suffix }}(last_at - ahead, reg.ttl_seconds) THEN
                    INSERT INTO pg_temp.presence_stale
                    VALUES ('*', reg.data_type, reg.priority,
                            GREATEST(pg_catalog.now(), last_at + pg_catalog.make_interval(secs => reg.ttl_seconds)));
                END IF;
            ELSE
                -- Popular symbols first: one more per viewer beyond the first, up to a bound.
                EXECUTE pg_catalog.format(
                    'INSERT INTO pg_temp.presence_stale (symbol, data_type, priority, due_at)
                     SELECT a.symbol, a.data_type, $2 + LEAST(a.viewers - 1, {{ rules.watchers_boost_max }}),
                            GREATEST(pg_catalog.now(), f.last_at + pg_catalog.make_interval(secs => $3))
                     FROM pg_temp.presence_active AS a
                     LEFT JOIN LATERAL (SELECT max(t.%1$I) AS last_at FROM public.%2$I AS t WHERE t.%3$I = a.symbol) AS f ON true
                     WHERE a.data_type = $1
                       AND public.is_data_stale{{ suffix }}(f.last_at - CASE WHEN a.viewers > 1 THEN $4 ELSE interval ''0'' END, $3)',
                    reg.timestamp_column, reg.target_table, reg.key_column)
                USING reg.data_type, reg.priority, reg.ttl_seconds, ahead;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            errors := errors + 1;
            PERFORM public.log_ops_event('staleness', 'warning', 'freshness check failed; treated as stale',
                pg_catalog.jsonb_build_object('data_type', reg.data_type, 'sqlstate', SQLSTATE, 'error', SQLERRM));
            INSERT INTO pg_temp.presence_stale
            SELECT CASE WHEN reg.key_column IS NULL THEN '*' ELSE a.symbol END, a.data_type, reg.priority, pg_catalog.now()
            FROM pg_temp.presence_active AS a WHERE a.data_type = reg.data_type
            GROUP BY 1, 2;
        END;
    END LOOP;
    SELECT count(*) FILTER (WHERE s.due_at <= pg_catalog.now()), count(*) FILTER (WHERE s.due_at > pg_catalog.now())
    INTO n_stale, n_ahead FROM pg_temp.presence_stale AS s;

    FOR chunk IN
        SELECT pg_catalog.array_agg(d.symbol) AS syms, pg_catalog.array_agg(d.data_type) AS types,
               pg_catalog.array_agg(d.priority) AS prios
        FROM (SELECT s.*, (pg_catalog.dense_rank() OVER (ORDER BY s.symbol) - 1) / scfg.queue_chunk_symbols AS k
              FROM pg_temp.presence_stale AS s) AS d
        GROUP BY d.k
    LOOP
        BEGIN
            SELECT queued + count(*), q_ids || pg_catalog.array_agg(q.job_id) INTO queued, q_ids
            FROM public.queue_refreshes{{ suffix }}(chunk.syms, chunk.types, chunk.prios) AS q
            WHERE q.outcome = 'queued';
        EXCEPTION WHEN OTHERS THEN
            FOR one IN
                SELECT u.s AS symbol, pg_catalog.array_agg(u.s) AS syms, pg_catalog.array_agg(u.t) AS types,
                       pg_catalog.array_agg(u.p) AS prios
                FROM unnest(chunk.syms, chunk.types, chunk.prios) AS u(s, t, p)
                GROUP BY u.s
            LOOP
                BEGIN
                    SELECT queued + count(*), q_ids || pg_catalog.array_agg(q.job_id) INTO queued, q_ids
                    FROM public.queue_refreshes{{ suffix }}(one.syms, one.types, one.prios) AS q
                    WHERE q.outcome = 'queued';
                EXCEPTION WHEN OTHERS THEN
                    errors := errors + 1;
                    PERFORM public.log_ops_event('staleness', 'warning', 'queueing a symbol failed',
                        pg_catalog.jsonb_build_object('symbol', one.symbol, 'sqlstate', SQLSTATE, 'error', SQLERRM));
                END;
            END LOOP;
        END;
    END LOOP;

    -- The jobs this run queued ahead are due when their data turns stale. Nobody else sees
    -- them before this transaction commits, so no claim can take one early.
    UPDATE public.api_call_queue{{ suffix }}_pending AS q
    SET scheduled_for = s.due_at
    FROM pg_temp.presence_stale AS s
    WHERE q.id = ANY (q_ids) AND s.symbol = q.symbol AND s.data_type = q.data_type AND s.due_at > q.scheduled_for;

    result := pg_catalog.jsonb_build_object('action', 'checked', 'pairs', pairs, 'stale', n_stale, 'ahead', n_ahead,
                                            'queued', queued, 'errors', errors, 'refused', pg_catalog.to_jsonb(refused));
    UPDATE public.staleness_state{{ suffix }} SET last_presence_run_at = pg_catalog.now(), last_presence_result = result;
    RETURN result;
END
{% endcall %}

{{ service_role_only(['public.check_and_queue_stale_data_from_presence' ~ suffix ~ '()',
                      'public.check_processor_responses' ~ suffix ~ '()']) }}
