DROP FUNCTION IF EXISTS public.log_ops_event(text, text, text, jsonb);

-- to_regclass, not a ::regclass literal: the literal would fail at parse time when the
-- table is already gone.
SELECT toolkit.retire_table(t) FROM to_regclass('public.ops_events') AS t WHERE t IS NOT NULL;
