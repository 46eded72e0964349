-- Revision 2: the breaker judges runs (failed runs in a row, or an error rate over a window)
-- and lets a bounded half-open probe through. processor_state gains columns (its row is kept),
-- processor_runs is new, and record_processor_result takes the run's calls and failures.
ALTER TABLE public.processor_state{{ suffix }}
    ADD COLUMN opened_reason text,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN probe_calls_left integer NOT NULL DEFAULT 0;
UPDATE public.processor_state{{ suffix }} SET closed_at = now() WHERE breaker_state = 'closed';

{% include 'phase2/invoke_processor_loop/processor_runs.sql' %}

DROP FUNCTION IF EXISTS public.record_processor_result{{ suffix }}(boolean, text);
{% include 'phase2/invoke_processor_loop/r2/phase2/invoke_processor_loop/functions.sql' %}
