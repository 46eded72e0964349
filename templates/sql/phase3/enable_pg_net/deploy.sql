-- "All in Postgres": pg_cron calls the queue processor through pg_net. A Supabase project
-- has the extension available; the embedded local stack has a stand-in of the same
-- interface in schema net instead (built by `toolkit local up`), which is left as it is.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_net') THEN
        CREATE EXTENSION IF NOT EXISTS pg_net;
    ELSIF pg_catalog.to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NULL THEN
        RAISE EXCEPTION 'pg_net is not available on this server'
            USING HINT = 'Supabase projects have it (Database > Extensions); elsewhere set settings.scheduler_mode: external in phases.yaml.';
    END IF;
END
$$;
