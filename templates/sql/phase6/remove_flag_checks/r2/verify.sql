-- The deployed bodies no longer call is_feature_enabled, and with every flag off a stale
-- symbol is still queued (inside a subtransaction that is always rolled back).
SELECT toolkit.check(p.oid IS NOT NULL, pg_catalog.format('function public.%s exists', f.name)),
       toolkit.check(p.prosrc !~ 'is_feature_enabled',
                     pg_catalog.format('public.%s no longer consults feature flags', f.name))
FROM (VALUES ('check_and_queue_stale_batch{{ final.suffix }}'), ('check_and_queue_stale_data_from_presence{{ final.suffix }}'),
             ('queue_scheduled_refreshes{{ final.suffix }}')) AS f(name)
LEFT JOIN pg_catalog.pg_proc AS p ON p.pronamespace = 'public'::regnamespace AND p.proname = f.name;

DO $$
DECLARE
    v_outcome text;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('toolkit.reason', 'verify probe', true);
        UPDATE public.feature_flags SET enabled = false WHERE enabled;
        INSERT INTO public.stock_quotes (symbol, price, updated_at) VALUES ('TKVFY', 1, pg_catalog.now() - interval '1 day')
        ON CONFLICT (symbol) DO UPDATE SET updated_at = excluded.updated_at;
        SELECT b.outcome INTO v_outcome
        FROM public.check_and_queue_stale_batch{{ final.suffix }}('TKVFY', ARRAY['quote'], 0) AS b;
        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;
    PERFORM toolkit.check(v_outcome = 'queued',
                          'with every flag off a stale quote is still queued (outcome: ' || coalesce(v_outcome, 'none') || ')');
END
$$;
