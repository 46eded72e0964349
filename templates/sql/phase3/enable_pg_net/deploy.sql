{% if settings.scheduler_mode == 'postgres' -%}
-- "All in Postgres": pg_cron calls the queue processor through pg_net.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_net') THEN
        RAISE EXCEPTION 'pg_net is not available on this server'
            USING HINT = 'Supabase projects have it (Database > Extensions); elsewhere set settings.scheduler_mode: external in phases.yaml.';
    END IF;
END
$$;
CREATE EXTENSION IF NOT EXISTS pg_net;
{%- else -%}
-- External scheduler mode: an external ticker calls the queue processor, so pg_net is not
-- needed. Nothing to deploy; the step records the mode (its checksum changes with it).
SELECT 'scheduler_mode: external';
{%- endif %}
