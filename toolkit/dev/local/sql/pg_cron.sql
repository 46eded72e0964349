-- =====================================================================================
-- LOCAL CLUSTER ONLY: pg_cron as a hosted Supabase project has it.
-- NEVER run this against a hosted Supabase project: the platform installs pg_cron there.
-- =====================================================================================
--
-- Run by supabase_admin, in one transaction, in a database pg_cron may be created in
-- (cron.database_name, or the name its install script allows for tests). Idempotent.
--
-- On a hosted project the extension belongs to supabase_admin and lives in pg_catalog
-- (its objects in schema cron). postgres may use the schema and every function, and all
-- of pg_cron's tables but one: cron.job is read-only for it, so jobs change only through
-- cron.schedule / cron.alter_job / cron.unschedule, which let a non-superuser touch the
-- jobs it owns and no other.
CREATE EXTENSION IF NOT EXISTS pg_cron WITH SCHEMA pg_catalog;

GRANT USAGE ON SCHEMA cron TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL FUNCTIONS IN SCHEMA cron TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL TABLES IN SCHEMA cron TO postgres WITH GRANT OPTION;
REVOKE ALL ON TABLE cron.job FROM postgres;
GRANT SELECT ON TABLE cron.job TO postgres WITH GRANT OPTION;

-- Objects a later pg_cron version adds come with the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA cron
    GRANT ALL ON TABLES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA cron
    GRANT ALL ON SEQUENCES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA cron
    GRANT ALL ON FUNCTIONS TO postgres WITH GRANT OPTION;
