DROP POLICY IF EXISTS data_type_registry{{ suffix }}_read ON public.data_type_registry{{ suffix }};

-- to_regclass, not a ::regclass literal: the literal would fail at parse time when the
-- table is already gone.
SELECT toolkit.retire_table(t) FROM to_regclass('public.data_type_registry{{ suffix }}') AS t WHERE t IS NOT NULL;
