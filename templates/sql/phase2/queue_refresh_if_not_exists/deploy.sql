{% from '_macros.sql' import private_definer, service_role_only -%}
-- Enqueueing with one live job per symbol and type across pending and processing.
--
-- queue_refreshes{{ suffix }} does it for many pairs in one statement (the presence check);
-- queue_refresh_if_not_exists{{ suffix }} for one pair, serialized per pair.
-- A pending job asked for again at a higher priority is raised to it. A pending row is
-- locked before it is judged: if a claim moved it to processing after our snapshot, the lock
-- finds it gone (a claim deletes it from pending; an UPDATE of its status raises
-- serialization_failure instead), and the whole statement runs again on a fresh snapshot,
-- where the job is found in processing. Outcomes: queued, raised, exists.
{% call private_definer('public.queue_refreshes' ~ suffix,
                        'p_symbols text[], p_data_types text[], p_priorities integer[]',
                        returns='TABLE (symbol text, data_type text, job_id bigint, outcome text)') %}
#variable_conflict use_column
DECLARE
    cfg     public.queue_config{{ suffix }};
    unknown text;
    tries   integer := 0;
    o_sym   text[];
    o_type  text[];
    o_id    bigint[];
    o_what  text[];
    gone    bigint;
BEGIN
    IF pg_catalog.cardinality(p_symbols) IS DISTINCT FROM pg_catalog.cardinality(p_data_types)
       OR pg_catalog.cardinality(p_symbols) IS DISTINCT FROM pg_catalog.cardinality(p_priorities) THEN
        RAISE EXCEPTION 'queue_refreshes{{ suffix }}: symbols, data types and priorities must be arrays of one length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_symbols, p_data_types, p_priorities) AS r(s, t, p)
               WHERE r.s IS NULL OR r.t IS NULL OR r.p IS NULL) THEN
        RAISE EXCEPTION 'queue_refreshes{{ suffix }}: symbol, data type and priority are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.s INTO unknown FROM unnest(p_symbols) AS r(s)
    WHERE r.s <> '*' AND NOT public.is_valid_symbol(r.s) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%', public.symbol_error(unknown) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT r.p INTO unknown FROM unnest(p_priorities) AS r(p)
    WHERE r.p NOT BETWEEN {{ rules.priority_min }} AND {{ rules.priority_max }} LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'priority % is out of range ({{ rules.priority_min }} to {{ rules.priority_max }})', unknown
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t INTO unknown FROM pg_catalog.unnest(p_data_types) AS t
    WHERE NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r WHERE r.data_type = t) LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'queue_refreshes{{ suffix }}: unknown data type %', unknown
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Register it in data_type_registry{{ suffix }} first.';
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    LOOP
        BEGIN
            WITH req AS (
                SELECT DISTINCT ON (r.s, r.t) r.s, r.t, r.p
                FROM unnest(p_symbols, p_data_types, p_priorities) AS r(s, t, p)
                ORDER BY r.s, r.t, r.p DESC
            ), seen AS (
                SELECT q.id
                FROM public.api_call_queue{{ suffix }}_pending AS q
                JOIN req ON req.s = q.symbol AND req.t = q.data_type
            ), locked AS (
                SELECT q.id, q.symbol, q.data_type, q.priority
                FROM public.api_call_queue{{ suffix }}_pending AS q
                JOIN req ON req.s = q.symbol AND req.t = q.data_type
                FOR UPDATE OF q
            ), raised AS (
                UPDATE public.api_call_queue{{ suffix }} AS q
                SET priority = req.p
                FROM locked AS l JOIN req ON req.s = l.symbol AND req.t = l.data_type
                WHERE q.status = 'pending' AND q.id = l.id AND req.p > l.priority
                RETURNING q.id
            ), busy AS (
                SELECT q.id, q.symbol, q.data_type
                FROM public.api_call_queue{{ suffix }}_processing AS q
                JOIN req ON req.s = q.symbol AND req.t = q.data_type
            ), inserted AS (
                INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority, max_attempts)
                SELECT req.s, req.t, req.p, cfg.max_attempts
                FROM req
                WHERE NOT EXISTS (SELECT 1 FROM locked AS l WHERE l.symbol = req.s AND l.data_type = req.t)
                  AND NOT EXISTS (SELECT 1 FROM busy AS b WHERE b.symbol = req.s AND b.data_type = req.t)
                ON CONFLICT DO NOTHING
                RETURNING id, symbol, data_type
            )
            SELECT pg_catalog.array_agg(o.symbol), pg_catalog.array_agg(o.data_type),
                   pg_catalog.array_agg(o.id), pg_catalog.array_agg(o.outcome),
                   (SELECT count(*) FROM seen) - (SELECT count(*) FROM locked)
            INTO o_sym, o_type, o_id, o_what, gone
            FROM (
                SELECT l.symbol, l.data_type, l.id,
                       CASE WHEN l.id IN (SELECT raised.id FROM raised) THEN 'raised' ELSE 'exists' END AS outcome
                FROM locked AS l
                UNION ALL
                SELECT b.symbol, b.data_type, b.id, 'exists' FROM busy AS b
                UNION ALL
                SELECT i.symbol, i.data_type, i.id, 'queued' FROM inserted AS i
            ) AS o;
            IF gone > 0 THEN
                -- Pending rows of our snapshot that were claimed before we could lock them:
                -- they are in processing now, which this snapshot cannot see. Undo, retry.
                RAISE EXCEPTION 'queue_refreshes{{ suffix }}: a pending job moved under this statement'
                    USING ERRCODE = 'serialization_failure';
            END IF;
            EXIT;
        EXCEPTION WHEN serialization_failure THEN
            tries := tries + 1;
            IF tries > cfg.claim_retries + 3 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
    -- Pairs another session inserted between our snapshot and our insert (ON CONFLICT skipped
    -- them): report the job that now exists.
    RETURN QUERY
    SELECT d.s, d.t, d.id, d.o FROM unnest(o_sym, o_type, o_id, o_what) AS d(s, t, id, o)
    UNION ALL
    SELECT r.s, r.t, q.id, 'exists'
    FROM (SELECT DISTINCT u.s, u.t FROM unnest(p_symbols, p_data_types) AS u(s, t)) AS r
    JOIN public.api_call_queue{{ suffix }} AS q
      ON q.symbol = r.s AND q.data_type = r.t AND q.status IN ('pending', 'processing')
    WHERE NOT EXISTS (SELECT 1 FROM unnest(o_sym, o_type) AS d(s, t) WHERE d.s = r.s AND d.t = r.t);
END
{% endcall %}

{% call private_definer('public.queue_refresh_if_not_exists' ~ suffix,
                        'p_symbol text, p_data_type text, p_priority integer, OUT job_id bigint, OUT outcome text') %}
BEGIN
    IF p_symbol IS NULL OR p_data_type IS NULL OR p_priority IS NULL THEN
        RAISE EXCEPTION 'queue_refresh_if_not_exists{{ suffix }}: symbol, data type and priority are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Callers for one pair take turns (the two-key lock form, apart from the single-key locks
    -- 42-44), so that a higher priority asked for concurrently is never lost.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('queue_refresh{{ suffix }}'),
                                              pg_catalog.hashtext(p_symbol || '/' || p_data_type));
    SELECT r.job_id, r.outcome INTO job_id, outcome
    FROM public.queue_refreshes{{ suffix }}(ARRAY[p_symbol], ARRAY[p_data_type], ARRAY[p_priority]) AS r
    LIMIT 1;
END
{% endcall %}

{{ service_role_only(['public.queue_refresh_if_not_exists' ~ suffix ~ '(text, text, integer)',
                      'public.queue_refreshes' ~ suffix ~ '(text[], text[], integer[])']) }}
