{% from '_macros.sql' import private_definer, service_role_only -%}
-- One symbol, several data types: which are stale, and queue those (a page view asks this
-- through track-subscription). Every type is validated before anything runs, and every
-- identifier taken from the registry before a statement is built from it; a type whose
-- freshness cannot be read (a broken table) counts as stale and is logged, so a fault never
-- leaves data silently old. A type whose registry row holds an invalid identifier is refused:
-- nothing is read or queued for it, its row says 'refused' and the refusal is logged as an
-- error. Reported, not raised: an error would roll the log entry back with the caller's
-- transaction, and the viewer's other types are still checked.
-- A type's queued priority is its registry priority plus p_priority.
{% call private_definer('public.check_and_queue_stale_batch' ~ suffix,
                        'p_symbol text, p_data_types text[], p_priority integer',
                        returns='TABLE (data_type text, stale boolean, job_id bigint, outcome text)') %}
#variable_conflict use_column
DECLARE
    reg      record;
    bad      text;
    last_at  timestamptz;
    is_stale boolean;
    q_syms   text[] := '{}'::text[];
    q_types  text[] := '{}'::text[];
    q_prios  integer[] := '{}'::integer[];
BEGIN
    IF NOT public.is_valid_symbol(p_symbol) THEN
        RAISE EXCEPTION '%', public.symbol_error(p_symbol) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_priority NOT BETWEEN {{ rules.priority_min }} AND {{ rules.priority_max }} THEN
        RAISE EXCEPTION 'priority % is out of range ({{ rules.priority_min }} to {{ rules.priority_max }})', p_priority
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_data_types IS NULL OR pg_catalog.cardinality(p_data_types) = 0 OR p_priority IS NULL THEN
        RAISE EXCEPTION 'check_and_queue_stale_batch{{ suffix }}: data types and priority are required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t INTO bad FROM pg_catalog.unnest(p_data_types) AS t
    WHERE NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r WHERE r.data_type = t) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'check_and_queue_stale_batch{{ suffix }}: unknown data type %', pg_catalog.quote_nullable(bad)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR reg IN
        SELECT r.* FROM public.data_type_registry{{ suffix }} AS r
        WHERE r.data_type = ANY (p_data_types) ORDER BY r.priority DESC, r.data_type
    LOOP
{%- if flag_checks %}
        IF NOT (public.is_feature_enabled('use_queue_system') AND public.is_feature_enabled(reg.feature_flag)) THEN
            data_type := reg.data_type; stale := NULL; job_id := NULL; outcome := 'flag off';
            RETURN NEXT;
            CONTINUE;
        END IF;
{%- endif %}
        IF NOT public.registry_identifiers_valid{{ suffix }}(reg.target_table, reg.key_column, reg.timestamp_column) THEN
            PERFORM public.log_ops_event('staleness', 'error', 'registry row refused: invalid identifier',
                pg_catalog.jsonb_build_object('data_type', reg.data_type, 'symbol', p_symbol,
                                              'by', 'check_and_queue_stale_batch{{ suffix }}'));
            data_type := reg.data_type; stale := NULL; job_id := NULL; outcome := 'refused';
            RETURN NEXT;
            CONTINUE;
        END IF;
        BEGIN
            IF reg.key_column IS NULL THEN
                EXECUTE pg_catalog.format('SELECT max(t.%I) FROM public.%I AS t', reg.timestamp_column, reg.target_table)
                INTO last_at;
            ELSE
                EXECUTE pg_catalog.format('SELECT max(t.%I) FROM public.%I AS t WHERE t.%I = $1',
                                          reg.timestamp_column, reg.target_table, reg.key_column)
                INTO last_at USING p_symbol;
            END IF;
            is_stale := public.is_data_stale{{ suffix }}(last_at, reg.ttl_seconds);
        EXCEPTION WHEN OTHERS THEN
            PERFORM public.log_ops_event('staleness', 'warning', 'freshness check failed; treated as stale',
                pg_catalog.jsonb_build_object('data_type', reg.data_type, 'symbol', p_symbol,
                                              'sqlstate', SQLSTATE, 'error', SQLERRM));
            is_stale := true;
        END;
        IF is_stale THEN
            -- A global type (no key column) is one job for everyone: symbol '*'.
            q_syms := q_syms || CASE WHEN reg.key_column IS NULL THEN '*' ELSE p_symbol END;
            q_types := q_types || reg.data_type;
            q_prios := q_prios || (reg.priority + p_priority);
        ELSE
            data_type := reg.data_type; stale := false; job_id := NULL; outcome := 'fresh';
            RETURN NEXT;
        END IF;
    END LOOP;

    IF pg_catalog.cardinality(q_types) > 0 THEN
        RETURN QUERY
        SELECT q.data_type, true, q.job_id, q.outcome
        FROM public.queue_refreshes{{ suffix }}(q_syms, q_types, q_prios) AS q;
    END IF;
END
{% endcall %}

{{ service_role_only(['public.check_and_queue_stale_batch' ~ suffix ~ '(text, text[], integer)']) }}
