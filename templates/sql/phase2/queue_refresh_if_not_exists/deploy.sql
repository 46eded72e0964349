-- Enqueue a refresh unless one is already live for the symbol and type (pending or
-- processing). Concurrent callers for one symbol and type are serialized by a transaction
-- advisory lock on the pair (the two-key form, apart from the single-key locks 42-44); a
-- pending job asked for at a higher priority is raised to it. Returns the live job's id,
-- and what happened: queued, raised, or exists.
CREATE OR REPLACE FUNCTION public.queue_refresh_if_not_exists{{ suffix }}(
    p_symbol text, p_data_type text, p_priority integer,
    OUT job_id bigint, OUT outcome text)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    cfg          public.queue_config{{ suffix }};
    old_priority integer;
    tries        integer := 0;
BEGIN
    IF p_symbol IS NULL OR p_data_type IS NULL OR p_priority IS NULL THEN
        RAISE EXCEPTION 'queue_refresh_if_not_exists{{ suffix }}: symbol, data type and priority are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.data_type_registry{{ suffix }} AS r WHERE r.data_type = p_data_type) THEN
        RAISE EXCEPTION 'queue_refresh_if_not_exists{{ suffix }}: unknown data type %', p_data_type
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Register it in data_type_registry{{ suffix }} first.';
    END IF;
    SELECT * INTO STRICT cfg FROM public.queue_config{{ suffix }};
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('queue_refresh{{ suffix }}'),
                                              pg_catalog.hashtext(p_symbol || '/' || p_data_type));
    LOOP
        BEGIN
            SELECT q.id INTO job_id FROM public.api_call_queue{{ suffix }}_processing AS q
            WHERE q.symbol = p_symbol AND q.data_type = p_data_type;
            IF FOUND THEN
                outcome := 'exists';
                RETURN;
            END IF;
            -- Locking the pending row may meet a claim that moved it to processing after our
            -- snapshot: serialization_failure, and the next round finds it in processing.
            SELECT q.id, q.priority INTO job_id, old_priority FROM public.api_call_queue{{ suffix }}_pending AS q
            WHERE q.symbol = p_symbol AND q.data_type = p_data_type
            FOR UPDATE;
            IF FOUND THEN
                IF p_priority > old_priority THEN
                    UPDATE public.api_call_queue{{ suffix }} AS q SET priority = p_priority
                    WHERE q.status = 'pending' AND q.id = job_id;
                    outcome := 'raised';
                ELSE
                    outcome := 'exists';
                END IF;
                RETURN;
            END IF;
            INSERT INTO public.api_call_queue{{ suffix }} (symbol, data_type, priority, max_attempts)
            VALUES (p_symbol, p_data_type, p_priority, cfg.max_attempts)
            ON CONFLICT DO NOTHING
            RETURNING id INTO job_id;
            IF FOUND THEN
                outcome := 'queued';
                RETURN;
            END IF;
            -- Lost an insert race against a caller that bypassed this function: look again.
        EXCEPTION WHEN serialization_failure THEN
            NULL;
        END;
        tries := tries + 1;
        IF tries > cfg.claim_retries + 3 THEN
            RAISE EXCEPTION 'queue_refresh_if_not_exists{{ suffix }}: could not settle % / % after % tries',
                p_symbol, p_data_type, tries USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION public.queue_refresh_if_not_exists{{ suffix }}(text, text, integer) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.queue_refresh_if_not_exists{{ suffix }}(text, text, integer) TO service_role;
