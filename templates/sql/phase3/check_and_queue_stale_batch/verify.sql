SELECT toolkit.check(to_regprocedure('public.check_and_queue_stale_batch{{ suffix }}(text, text[], integer)') IS NOT NULL,
                     'check_and_queue_stale_batch{{ suffix }} exists');
SELECT toolkit.check(p.prosecdef AND 'search_path=""' = ANY (p.proconfig),
                     'check_and_queue_stale_batch{{ suffix }} is SECURITY DEFINER with an empty search_path')
FROM pg_proc AS p WHERE p.oid = 'public.check_and_queue_stale_batch{{ suffix }}(text, text[], integer)'::regprocedure;
SELECT toolkit.check(NOT has_function_privilege(r, 'public.check_and_queue_stale_batch{{ suffix }}(text, text[], integer)', 'EXECUTE'),
                     r || ' cannot execute check_and_queue_stale_batch{{ suffix }}')
FROM unnest(ARRAY['anon', 'authenticated']) AS r;
DO $$
DECLARE
    refused boolean := false;
BEGIN
    BEGIN
        PERFORM public.check_and_queue_stale_batch{{ suffix }}('AAPL; DROP TABLE x', ARRAY['quote'], 0);
    EXCEPTION WHEN invalid_parameter_value THEN
        refused := true;
    END;
    PERFORM toolkit.check(refused, 'check_and_queue_stale_batch{{ suffix }} refuses a symbol that is not a ticker');
END
$$;
