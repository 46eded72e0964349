-- retire_table takes the partitions along (dropped with the parent, or archived with it).
-- to_regclass, not a ::regclass literal: the literal would fail at parse time when the
-- table is already gone.
SELECT toolkit.retire_table(t) FROM to_regclass('public.api_call_queue{{ suffix }}') AS t WHERE t IS NOT NULL;
