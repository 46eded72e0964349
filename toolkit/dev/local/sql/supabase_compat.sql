-- =====================================================================================
-- LOCAL CLUSTER ONLY: a stand-in for what every hosted Supabase project already has.
-- NEVER run this against a hosted Supabase project: there the real roles, auth schema,
-- and Vault (with real encryption) exist, and this script would shadow or weaken them.
-- =====================================================================================
--
-- The embedded PostgreSQL 15 cluster is a plain Postgres. Rollout scripts and security
-- tests assume the Supabase API roles, the auth helpers, Vault and Supabase's default
-- privileges, so this file recreates just enough of them for the scripts and tests to
-- behave and mean the same locally as on a hosted project. No GoTrue, no PostgREST:
-- callers impersonate a request with SET ROLE and SET request.jwt.claims.
--
-- Run by the superuser supabase_admin, once per database, in one transaction, after
-- hosted_roles.sql built the cluster's roles. What it creates belongs to supabase_admin,
-- as the platform's objects do on a hosted project; postgres gets the grants it has there.
-- Idempotent: CREATE ... IF NOT EXISTS or CREATE OR REPLACE, and grants.

-- -------------------------------------------------------------------------------------
-- Schemas. Hosted projects resolve unqualified extension functions (gen_random_bytes,
-- crypt, ...) because extensions is on postgres's search_path (hosted_roles.sql).
-- -------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE SCHEMA IF NOT EXISTS auth;
GRANT ALL ON SCHEMA extensions, auth TO postgres;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;

-- What the platform installs in extensions stays usable (and grantable) by postgres.
GRANT ALL ON ALL TABLES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL ROUTINES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
GRANT ALL ON ALL SEQUENCES IN SCHEMA extensions TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON TABLES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON ROUTINES TO postgres WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA extensions
    GRANT ALL ON SEQUENCES TO postgres WITH GRANT OPTION;

-- -------------------------------------------------------------------------------------
-- auth helpers, written like Supabase's own. PostgREST >= 9 sets request.jwt.claims
-- (one JSON setting); older versions set one request.jwt.claim.<name> per claim, and
-- Supabase still reads both, the per-claim setting first. Missing claims give NULL.
-- -------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION auth.uid()
RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

CREATE OR REPLACE FUNCTION auth.email()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
    )::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt()
    TO anon, authenticated, service_role;

-- Just enough of GoTrue's table for app tables to reference users (FKs, RLS joins).
CREATE TABLE IF NOT EXISTS auth.users (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email              text,
    created_at         timestamptz DEFAULT now(),
    raw_user_meta_data jsonb
);
-- As on hosted projects, the API roles never read auth.users directly; postgres may use
-- everything in auth (app tables reference auth.users, policies call its helpers).
REVOKE ALL ON TABLE auth.users FROM PUBLIC, anon, authenticated;
GRANT ALL ON ALL TABLES IN SCHEMA auth TO postgres;
GRANT ALL ON ALL ROUTINES IN SCHEMA auth TO postgres;

-- -------------------------------------------------------------------------------------
-- Vault stand-in.
--
--   !!!  NOT ENCRYPTED  !!!  Secrets are stored IN PLAIN TEXT in vault.secrets, and
--   vault.decrypted_secrets simply echoes them. Hosted Vault encrypts with pgsodium /
--   libsodium; this copy only reproduces the API (table, view, functions, privileges)
--   so rollout code that stores and reads secrets runs unchanged on a local,
--   throwaway cluster. Never put a real production secret in a local cluster.
-- -------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS vault;

CREATE TABLE IF NOT EXISTS vault.secrets (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        UNIQUE,
    description text        NOT NULL DEFAULT '',
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE VIEW vault.decrypted_secrets AS
SELECT s.id,
       s.name,
       s.description,
       s.secret,
       s.secret AS decrypted_secret,   -- plain text locally, see the warning above
       s.created_at,
       s.updated_at
FROM vault.secrets AS s;

-- SECURITY DEFINER like hosted Vault: callers need EXECUTE, not table privileges.
CREATE OR REPLACE FUNCTION vault.create_secret(
    new_secret      text,
    new_name        text DEFAULT NULL,
    new_description text DEFAULT ''
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO vault.secrets (secret, name, description)
    VALUES (new_secret, new_name, coalesce(new_description, ''))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;

-- NULL arguments mean "keep the current value", as in hosted Vault.
CREATE OR REPLACE FUNCTION vault.update_secret(
    secret_id       uuid,
    new_secret      text DEFAULT NULL,
    new_name        text DEFAULT NULL,
    new_description text DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    UPDATE vault.secrets AS s
    SET secret      = coalesce(new_secret, s.secret),
        name        = coalesce(new_name, s.name),
        description = coalesce(new_description, s.description),
        updated_at  = now()
    WHERE s.id = secret_id;
END
$$;

-- The hosted grants: postgres reads and deletes secrets but writes them only through the
-- two functions; service_role may enter the schema and nothing more. Functions are
-- executable by PUBLIC by default, so the revoke must name them too.
REVOKE ALL ON SCHEMA vault FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON ALL TABLES IN SCHEMA vault FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA vault FROM PUBLIC, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA vault TO postgres WITH GRANT OPTION;
GRANT USAGE ON SCHEMA vault TO service_role;
GRANT SELECT, DELETE, TRUNCATE ON vault.secrets, vault.decrypted_secrets TO postgres WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text),
                          vault.update_secret(uuid, text, text, text)
    TO postgres WITH GRANT OPTION;

-- -------------------------------------------------------------------------------------
-- Supabase's default privileges in schema public, exactly as on a hosted project: for
-- what postgres creates and for what supabase_admin creates. Consequence, on purpose: a
-- table created in public without explicit REVOKEs is readable AND writable by anon, so
-- local security tests catch the same mistakes.
-- -------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO postgres, anon, authenticated, service_role;
