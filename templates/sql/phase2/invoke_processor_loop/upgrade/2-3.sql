-- Revision 3: one processor run at a time, under a lease (processor_state gains its columns,
-- last, in deploy.sql's order; the row is kept), the functions a run takes, renews and ends it
-- with, and the loop that starts the next run as the current one ends.
ALTER TABLE public.processor_state{{ suffix }}
    ADD COLUMN run_id text,
    ADD COLUMN run_started_at timestamptz,
    ADD COLUMN run_ends_at timestamptz,
    ADD COLUMN run_lease_until timestamptz;

{% include 'phase2/invoke_processor_loop/r3/phase2/invoke_processor_loop/functions.sql' %}
