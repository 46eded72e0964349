{% from '_macros.sql' import private_definer, service_role_only -%}
-- Feature flags: the switch for every cut-over from a legacy pg_cron job to the queue, plus
-- an append-only audit trail so "who turned quotes on, and why" always has an answer.

CREATE TABLE public.feature_flags (
    flag_name   text        PRIMARY KEY
                            -- Flag names end up in code and URLs: plain snake_case, the same
                            -- pattern phases.yaml enforces for data_types[].flag.
                            CONSTRAINT feature_flags_flag_name_format
                            CHECK (flag_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    enabled     boolean     NOT NULL DEFAULT false,
    description text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);

CREATE TABLE public.feature_flag_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flag_name   text        NOT NULL,
    -- old_enabled/new_enabled alone cannot tell a description edit from a no-op.
    operation   text        NOT NULL
                            CONSTRAINT feature_flag_audit_operation_valid
                            CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_enabled boolean,
    new_enabled boolean,
    actor       text        NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX feature_flag_audit_flag_name_at_idx ON public.feature_flag_audit (flag_name, at);

-- Who is acting: an explicit toolkit actor (CLI runs), else the JWT subject of an API call,
-- else the database login. Reads the JWT settings directly instead of calling auth.uid(),
-- which only exists on Supabase and the local compat layer.
CREATE OR REPLACE FUNCTION public.feature_flag_actor()
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_actor text := nullif(pg_catalog.current_setting('toolkit.actor', true), '');
BEGIN
    IF v_actor IS NULL THEN
        v_actor := nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), '');
    END IF;
    IF v_actor IS NULL THEN
        BEGIN
            v_actor := nullif(
                nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
                    OPERATOR(pg_catalog.->>) 'sub',
                '');
        EXCEPTION WHEN invalid_text_representation THEN
            -- A malformed claims setting must not block a flag change; fall through.
            v_actor := NULL;
        END;
    END IF;
    RETURN coalesce(v_actor, SESSION_USER::text);
END
$$;

-- updated_at/updated_by are stamped here so callers cannot forge them.
CREATE OR REPLACE FUNCTION public.feature_flags_stamp()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    NEW.updated_by := public.feature_flag_actor();
    RETURN NEW;
END
$$;

-- SECURITY DEFINER so the audit row is written even though no API role (not even
-- service_role) may insert into the audit table itself: audit rows only come from here.
{% call private_definer('public.feature_flags_write_audit', returns='trigger') %}
BEGIN
    INSERT INTO public.feature_flag_audit (flag_name, operation, old_enabled, new_enabled, actor, reason)
    VALUES (
        CASE WHEN TG_OP = 'DELETE' THEN OLD.flag_name ELSE NEW.flag_name END,
        TG_OP,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.enabled END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.enabled END,
        public.feature_flag_actor(),
        nullif(pg_catalog.current_setting('toolkit.reason', true), '')
    );
    RETURN NULL;
END
{% endcall %}

CREATE OR REPLACE FUNCTION public.feature_flag_audit_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RAISE EXCEPTION 'public.feature_flag_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are written by the feature_flags trigger and never changed.';
END
$$;

CREATE TRIGGER feature_flags_stamp
    BEFORE INSERT OR UPDATE ON public.feature_flags
    FOR EACH ROW EXECUTE FUNCTION public.feature_flags_stamp();

CREATE TRIGGER feature_flags_audit
    AFTER INSERT OR UPDATE OR DELETE ON public.feature_flags
    FOR EACH ROW EXECUTE FUNCTION public.feature_flags_write_audit();

-- Statement-level, so it also fires when a DELETE or UPDATE matches no row and for TRUNCATE
-- (which row triggers never see).
CREATE TRIGGER feature_flag_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON public.feature_flag_audit
    FOR EACH STATEMENT EXECUTE FUNCTION public.feature_flag_audit_append_only();

-- Clients decide what to show with this; it reads through RLS as the caller.
CREATE OR REPLACE FUNCTION public.is_feature_enabled(flag text)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce((SELECT f.enabled FROM public.feature_flags AS f WHERE f.flag_name = flag), false)
$$;

-- Row-level security and privileges. Supabase's default privileges have just granted ALL
-- on both tables (and EXECUTE on the functions) to anon, authenticated and service_role.
ALTER TABLE public.feature_flags ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.feature_flag_audit ENABLE ROW LEVEL SECURITY;

CREATE POLICY feature_flags_read ON public.feature_flags
    FOR SELECT TO anon, authenticated
    USING (true);

REVOKE ALL ON TABLE public.feature_flags FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.feature_flags TO anon, authenticated;
-- No TRUNCATE: it skips row triggers, so it would change flags without an audit row.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.feature_flags TO service_role;

-- No policy: the audit trail is not for clients. The owner loses UPDATE/DELETE/TRUNCATE too
-- (on hosted Supabase postgres is not a superuser, so this binds it); INSERT stays for the
-- SECURITY DEFINER trigger function it owns.
REVOKE ALL ON TABLE public.feature_flag_audit FROM PUBLIC, anon, authenticated, service_role;
REVOKE UPDATE, DELETE, TRUNCATE ON TABLE public.feature_flag_audit FROM CURRENT_USER;
GRANT SELECT ON TABLE public.feature_flag_audit TO service_role;
REVOKE ALL ON SEQUENCE public.feature_flag_audit_id_seq FROM PUBLIC, anon, authenticated, service_role;

{{ service_role_only(['public.feature_flag_actor()', 'public.feature_flags_stamp()',
                      'public.feature_flags_write_audit()', 'public.feature_flag_audit_append_only()']) }}

REVOKE EXECUTE ON FUNCTION public.is_feature_enabled(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.is_feature_enabled(text) TO anon, authenticated, service_role;

-- Seeds: every flag starts disabled. DISTINCT ON because two data types may share a flag,
-- and ON CONFLICT cannot touch one row twice in a statement. An existing flag keeps its
-- enabled state; only a changed description is rewritten (so no empty audit rows).
INSERT INTO public.feature_flags AS f (flag_name, enabled, description)
SELECT DISTINCT ON (s.flag_name) s.flag_name, false, s.description
FROM (
    SELECT 0 AS ord, 'use_queue_system' AS flag_name,
           'Master switch for the queue-based data refresh system.' AS description
    UNION ALL
    SELECT 1, d.flag,
           pg_catalog.format('Serve data type %s (table public.%s) through the queue instead of the pg_cron job %s.',
                             d.name, d."table", coalesce(d.legacy_job, '(none)'))
    FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb))
         AS d(name text, "table" text, flag text, legacy_job text)
    WHERE d.flag IS NOT NULL
) AS s
ORDER BY s.flag_name, s.ord
ON CONFLICT (flag_name) DO UPDATE
    SET description = EXCLUDED.description
    WHERE f.description IS DISTINCT FROM EXCLUDED.description;
