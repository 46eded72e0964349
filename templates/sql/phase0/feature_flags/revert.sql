-- Triggers go before the tables: a table holding rows is archived, not dropped, and its
-- triggers would otherwise keep the trigger functions from being dropped. The archived
-- audit table therefore loses its append-only trigger; toolkit_archive is not exposed.
DROP TRIGGER IF EXISTS feature_flags_audit ON public.feature_flags;
DROP TRIGGER IF EXISTS feature_flags_stamp ON public.feature_flags;
DROP TRIGGER IF EXISTS feature_flag_audit_append_only ON public.feature_flag_audit;
DROP POLICY IF EXISTS feature_flags_read ON public.feature_flags;

DROP FUNCTION IF EXISTS public.is_feature_enabled(text);

-- to_regclass, not a ::regclass literal: the literal would fail at parse time when the
-- table is already gone.
SELECT toolkit.retire_table(t) FROM to_regclass('public.feature_flags') AS t WHERE t IS NOT NULL;
SELECT toolkit.retire_table(t) FROM to_regclass('public.feature_flag_audit') AS t WHERE t IS NOT NULL;

DROP FUNCTION IF EXISTS public.feature_flags_write_audit();
DROP FUNCTION IF EXISTS public.feature_flags_stamp();
DROP FUNCTION IF EXISTS public.feature_flag_audit_append_only();
DROP FUNCTION IF EXISTS public.feature_flag_actor();
