DROP POLICY IF EXISTS active_subscriptions{{ suffix }}_read_own ON public.active_subscriptions{{ suffix }};

-- to_regclass, not a ::regclass literal: the literal would fail at parse time when the
-- table is already gone.
SELECT toolkit.retire_table(t) FROM to_regclass('public.active_subscriptions{{ suffix }}') AS t WHERE t IS NOT NULL;
