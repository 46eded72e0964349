-- Revision 3 -> 4 of api_data_usage: the processor's drain settings: continuous runs of run_seconds polling every idle_poll_ms, or once
-- Runs on a live database at revision 3, in the phase's transaction, before the
-- verify of revision 4; it must reach exactly what deploy.sql creates.
ALTER TABLE public.queue_config{{ suffix }}
    ADD COLUMN processor_drain text,
    ADD COLUMN processor_run_seconds integer,
    ADD COLUMN processor_idle_poll_ms integer;
UPDATE public.queue_config{{ suffix }}
SET processor_drain = s #>> '{processor,drain}',
    processor_run_seconds = (s #>> '{processor,run_seconds}')::integer,
    processor_idle_poll_ms = (s #>> '{processor,idle_poll_ms}')::integer,
    updated_at = now()
FROM (SELECT toolkit.param('settings') AS s) AS p;
ALTER TABLE public.queue_config{{ suffix }}
    ALTER COLUMN processor_drain SET NOT NULL,
    ADD CHECK (processor_drain IN ('continuous', 'once')),
    ALTER COLUMN processor_run_seconds SET NOT NULL,
    ADD CHECK (processor_run_seconds BETWEEN 10 AND 110),
    ALTER COLUMN processor_idle_poll_ms SET NOT NULL,
    ADD CHECK (processor_idle_poll_ms BETWEEN 20 AND 5000);
