SELECT toolkit.check_private_function('public.check_and_queue_stale_batch{{ suffix }}(text, text[], integer)');
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
