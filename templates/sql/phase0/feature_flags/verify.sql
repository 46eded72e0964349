-- Existence first: later checks name the objects directly and would fail with a plain
-- "does not exist" instead of a verify message.
SELECT toolkit.check(to_regclass('public.feature_flags') IS NOT NULL, 'table public.feature_flags exists');
SELECT toolkit.check(to_regclass('public.feature_flag_audit') IS NOT NULL, 'table public.feature_flag_audit exists');
SELECT toolkit.check_private_function('public.feature_flag_actor()', definer => false);
SELECT toolkit.check_private_function('public.feature_flags_stamp()', definer => false);
SELECT toolkit.check_private_function('public.feature_flags_write_audit()');
SELECT toolkit.check_private_function('public.feature_flag_audit_append_only()', definer => false);
SELECT toolkit.check(to_regprocedure('public.is_feature_enabled(text)') IS NOT NULL, 'function public.is_feature_enabled(text) exists');

-- Column sets, types and nullability, in order.
SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.feature_flags'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['flag_name text not null', 'enabled boolean not null', 'description text',
            'updated_at timestamp with time zone not null', 'updated_by text'],
    'public.feature_flags has columns flag_name, enabled, description, updated_at, updated_by');
SELECT toolkit.check(
    (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ORDER BY a.attnum)
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = 'public.feature_flag_audit'::regclass AND a.attnum > 0 AND NOT a.attisdropped)
    = ARRAY['id bigint not null', 'flag_name text not null', 'operation text not null', 'old_enabled boolean',
            'new_enabled boolean', 'actor text not null', 'reason text', 'at timestamp with time zone not null'],
    'public.feature_flag_audit has columns id, flag_name, operation, old_enabled, new_enabled, actor, reason, at');
SELECT toolkit.check(
    (SELECT attidentity FROM pg_catalog.pg_attribute WHERE attrelid = 'public.feature_flag_audit'::regclass AND attname = 'id') = 'a',
    'public.feature_flag_audit.id is GENERATED ALWAYS AS IDENTITY');

SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.feature_flags'::regclass AND contype = 'p'
              AND pg_get_constraintdef(oid) = 'PRIMARY KEY (flag_name)'),
    'public.feature_flags has PRIMARY KEY (flag_name)');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_constraint
            WHERE conrelid = 'public.feature_flags'::regclass AND contype = 'c'
              AND conname = 'feature_flags_flag_name_format'),
    'public.feature_flags has CHECK constraint feature_flags_flag_name_format');

-- Triggers: enabled ('O') and on the right events.
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_trigger
            WHERE tgrelid = 'public.feature_flags'::regclass AND tgname = 'feature_flags_audit'
              AND tgenabled = 'O' AND tgfoid = 'public.feature_flags_write_audit()'::regprocedure
              AND pg_get_triggerdef(oid) LIKE '%AFTER INSERT OR DELETE OR UPDATE ON public.feature_flags FOR EACH ROW%'),
    'trigger feature_flags_audit fires after INSERT, UPDATE and DELETE on public.feature_flags');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_trigger
            WHERE tgrelid = 'public.feature_flags'::regclass AND tgname = 'feature_flags_stamp'
              AND tgenabled = 'O' AND tgfoid = 'public.feature_flags_stamp()'::regprocedure),
    'trigger feature_flags_stamp exists on public.feature_flags');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_trigger
            WHERE tgrelid = 'public.feature_flag_audit'::regclass AND tgname = 'feature_flag_audit_append_only'
              AND tgenabled = 'O' AND tgfoid = 'public.feature_flag_audit_append_only()'::regprocedure
              AND pg_get_triggerdef(oid) LIKE '%BEFORE DELETE OR UPDATE OR TRUNCATE ON public.feature_flag_audit%'),
    'trigger feature_flag_audit_append_only guards UPDATE, DELETE and TRUNCATE on public.feature_flag_audit');

-- Row-level security and privileges.
SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'public.feature_flags'::regclass),
                     'row-level security is enabled on public.feature_flags');
SELECT toolkit.check((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'public.feature_flag_audit'::regclass),
                     'row-level security is enabled on public.feature_flag_audit');
SELECT toolkit.check(
    EXISTS (SELECT FROM pg_catalog.pg_policies
            WHERE schemaname = 'public' AND tablename = 'feature_flags' AND policyname = 'feature_flags_read'
              AND cmd = 'SELECT' AND roles @> ARRAY['anon', 'authenticated']::name[]),
    'policy feature_flags_read lets anon and authenticated read public.feature_flags');
SELECT toolkit.check(has_table_privilege(r.role, 'public.feature_flags', 'SELECT'),
                     r.role || ' can SELECT public.feature_flags')
FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role);
SELECT toolkit.check(NOT has_table_privilege(r.role, 'public.feature_flags', 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     r.role || ' cannot write public.feature_flags')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);
SELECT toolkit.check(NOT has_table_privilege('service_role', 'public.feature_flags', 'TRUNCATE'),
                     'service_role cannot TRUNCATE public.feature_flags (it would bypass the audit trigger)');
SELECT toolkit.check(NOT has_table_privilege(r.role, 'public.feature_flag_audit', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
                     r.role || ' has no privilege on public.feature_flag_audit')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);
SELECT toolkit.check(NOT has_table_privilege('service_role', 'public.feature_flag_audit', 'INSERT, UPDATE, DELETE, TRUNCATE'),
                     'service_role cannot write public.feature_flag_audit');
SELECT toolkit.check(NOT has_sequence_privilege(r.role, pg_get_serial_sequence('public.feature_flag_audit', 'id'), 'USAGE, SELECT, UPDATE'),
                     r.role || ' has no privilege on the sequence of public.feature_flag_audit')
FROM unnest(ARRAY['anon', 'authenticated']) AS r(role);

SELECT toolkit.check(has_function_privilege(r.role, 'public.is_feature_enabled(text)', 'EXECUTE'),
                     r.role || ' can execute public.is_feature_enabled(text)')
FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role);
SELECT toolkit.check(NOT p.prosecdef AND p.provolatile = 's',
                     'public.is_feature_enabled(text) is STABLE and SECURITY INVOKER')
FROM pg_catalog.pg_proc AS p WHERE p.oid = 'public.is_feature_enabled(text)'::regprocedure;

-- Seeds: the master flag and one flag per configured data type (until the final migration
-- removes them: phase 6's clean_flags).
{% if not flags_cleaned -%}
SELECT toolkit.check(EXISTS (SELECT FROM public.feature_flags WHERE flag_name = 'use_queue_system'),
                     'public.feature_flags holds flag use_queue_system');
SELECT toolkit.check(
    NOT EXISTS (SELECT FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb)) AS d(flag text)
                WHERE d.flag IS NOT NULL
                  AND NOT EXISTS (SELECT FROM public.feature_flags AS f WHERE f.flag_name = d.flag)),
    'public.feature_flags holds a flag for every configured data type; missing: ' || coalesce(
        (SELECT string_agg(d.flag, ', ')
         FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb)) AS d(flag text)
         WHERE d.flag IS NOT NULL
           AND NOT EXISTS (SELECT FROM public.feature_flags AS f WHERE f.flag_name = d.flag)), 'none'));
{%- endif %}

-- Behaviour, inside a subtransaction that is always rolled back, so verify changes nothing
-- even if the caller commits. TRUNCATE is not probed: its ACCESS EXCLUSIVE lock would stall
-- readers of a live system; the trigger definition check above covers it.
DO $$
DECLARE
    v_unknown   boolean;
    v_after_on  boolean;
    v_audit     record;
    v_n_audit   bigint;
    v_upd_state text;
    v_del_state text;
    v_bad_name  text;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('toolkit.actor', 'toolkit-verify', true);
        PERFORM pg_catalog.set_config('toolkit.reason', 'verify probe', true);
        v_unknown := public.is_feature_enabled('toolkit_verify_no_such_flag');

        INSERT INTO public.feature_flags (flag_name, description) VALUES ('toolkit_verify_probe', 'verify probe');
        UPDATE public.feature_flags SET enabled = true WHERE flag_name = 'toolkit_verify_probe';
        v_after_on := public.is_feature_enabled('toolkit_verify_probe');
        SELECT count(*) INTO v_n_audit FROM public.feature_flag_audit WHERE flag_name = 'toolkit_verify_probe';
        SELECT * INTO v_audit FROM public.feature_flag_audit
        WHERE flag_name = 'toolkit_verify_probe' AND operation = 'UPDATE';

        BEGIN
            UPDATE public.feature_flag_audit SET reason = 'tampered' WHERE flag_name = 'toolkit_verify_probe';
        EXCEPTION WHEN OTHERS THEN v_upd_state := SQLSTATE;
        END;
        BEGIN
            DELETE FROM public.feature_flag_audit WHERE flag_name = 'toolkit_verify_probe';
        EXCEPTION WHEN OTHERS THEN v_del_state := SQLSTATE;
        END;
        BEGIN
            INSERT INTO public.feature_flags (flag_name) VALUES ('Bad Flag;');
        EXCEPTION WHEN OTHERS THEN v_bad_name := SQLSTATE;
        END;

        RAISE EXCEPTION 'roll back the verify probe' USING ERRCODE = 'TKVRB';
    EXCEPTION WHEN SQLSTATE 'TKVRB' THEN
        NULL;
    END;

    PERFORM toolkit.check(v_unknown IS FALSE, 'public.is_feature_enabled() returns false for an unknown flag');
    PERFORM toolkit.check(v_after_on IS TRUE, 'public.is_feature_enabled() returns true for an enabled flag');
    PERFORM toolkit.check(v_n_audit = 2, 'public.feature_flag_audit records one row per INSERT and UPDATE of public.feature_flags');
    PERFORM toolkit.check(v_audit.old_enabled IS FALSE AND v_audit.new_enabled IS TRUE
                          AND v_audit.actor = 'toolkit-verify' AND v_audit.reason = 'verify probe',
                          'public.feature_flag_audit records old/new state, toolkit.actor and toolkit.reason');
    PERFORM toolkit.check(v_upd_state IS NOT NULL, 'UPDATE of public.feature_flag_audit is refused');
    PERFORM toolkit.check(v_del_state IS NOT NULL, 'DELETE from public.feature_flag_audit is refused');
    PERFORM toolkit.check(v_bad_name = '23514', 'public.feature_flags rejects a malformed flag_name');
END
$$;
