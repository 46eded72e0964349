-- =====================================================================================
-- LOCAL CLUSTER ONLY: the roles of a hosted Supabase project, built in a fresh cluster.
-- NEVER run this against a hosted Supabase project: its roles exist and are managed there.
-- =====================================================================================
--
-- Run once per cluster by its bootstrap superuser, supabase_admin (initdb -U supabase_admin),
-- in one transaction, in the database `postgres`. Roles are shared by every database of the
-- cluster; what each database needs besides (schemas, grants, default privileges, Vault,
-- pg_cron) is in supabase_compat.sql and pg_cron.sql.
--
-- Before it runs, the session sets toolkit.postgres_password: the password of the login the
-- toolkit, the tests and the demo use, as on a hosted project.

-- The project owner's login: everything short of a superuser, as on a hosted project.
-- Without superuser it cannot write pg_cron's table, own the extensions, or bypass a
-- privilege it was not granted; that is what the local stack is built to catch.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'postgres') THEN
        CREATE ROLE postgres;
    END IF;
    EXECUTE pg_catalog.format(
        'ALTER ROLE postgres NOSUPERUSER LOGIN CREATEROLE CREATEDB REPLICATION BYPASSRLS INHERIT PASSWORD %L',
        pg_catalog.current_setting('toolkit.postgres_password'));
END
$$;
ALTER ROLE postgres SET search_path TO "$user", public, extensions;
ALTER ROLE supabase_admin SET search_path TO "$user", public, auth, extensions;

-- The API roles PostgREST switches to, with the timeouts the platform gives them.
CREATE ROLE anon NOLOGIN INHERIT;
CREATE ROLE authenticated NOLOGIN INHERIT;
CREATE ROLE service_role NOLOGIN INHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
ALTER ROLE anon SET statement_timeout TO '3s';
ALTER ROLE authenticated SET statement_timeout TO '8s';
ALTER ROLE authenticator SET statement_timeout TO '8s';
ALTER ROLE authenticator SET lock_timeout TO '8s';

-- PostgREST logs in as authenticator and switches to the role the JWT names.
GRANT anon, authenticated, service_role TO authenticator;
-- postgres may SET ROLE to the API roles (and the tests impersonate clients that way), read
-- the statistics views, read all data, and signal other backends: on PG 15 none of these
-- with the admin option.
GRANT anon, authenticated, service_role TO postgres;
GRANT pg_monitor, pg_read_all_data, pg_signal_backend TO postgres;

-- A hosted project's database belongs to postgres (so it owns schema public, through
-- pg_database_owner), while supabase_admin owns what the platform installs in it.
ALTER DATABASE postgres OWNER TO postgres;
