-- The processor's pacemaker, called every minute by pg_cron (or by the external ticker):
-- one caller at a time (advisory lock 44), stuck jobs recovered first, then, unless the
-- circuit breaker is open, nothing is due, or the budget is spent, the queue processor is
-- invoked through pg_net in postgres scheduler mode; in external mode it says so, and the
-- external ticker (which called it) invokes the processor itself.
--
-- The circuit breaker judges runs, not single failures: it opens after breaker_failure_threshold
-- failed runs in a row (a run fails when it could not run at all, or when every provider call
-- it made failed), or when, over the last breaker_window_seconds since it last closed, at
-- least breaker_min_calls calls were made and breaker_error_rate of them failed. After
-- breaker_open_seconds the loop lets one half-open probe through, of breaker_probe_calls calls
-- at most (the call permits enforce it); the probe's run closes or reopens the circuit.
-- Opening and closing are logged in ops_events with the reason.
--
-- One run of the processor at a time: a run holds the processor under a lease in
-- processor_state (taken under lock 44, as the loop runs), takes jobs until its end, and renews
-- the lease every few seconds, so that a run that died lets go within seconds. A start that
-- finds a run in progress does nothing, unless that run is about to end: then it starts the
-- next run, which takes over at the end (settings.processor: a continuous run drains while it
-- lasts, waiting for new due jobs; a run "once" drains what is due and returns).
CREATE TABLE public.processor_state{{ suffix }} (
    id                   boolean     PRIMARY KEY DEFAULT true CHECK (id),
    breaker_state        text        NOT NULL DEFAULT 'closed'
                                     CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    consecutive_failures integer     NOT NULL DEFAULT 0,   -- failed runs in a row
    opened_at            timestamptz,
    probe_started_at     timestamptz,
    last_invoked_at      timestamptz,
    last_result          jsonb,
    last_error           text,
    last_success_at      timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- Revision 2 (the upgrade adds them in this order, so both ways give one table).
    opened_reason        text,
    closed_at            timestamptz,                      -- the error-rate window starts here at the earliest
    probe_calls_left     integer     NOT NULL DEFAULT 0,   -- what the half-open probe may still call
    -- Revision 3 (likewise). The run that holds the processor, when it started, until when it
    -- takes jobs, and when its lease lapses unless renewed.
    run_id               text,
    run_started_at       timestamptz,
    run_ends_at          timestamptz,
    run_lease_until      timestamptz
);
INSERT INTO public.processor_state{{ suffix }} DEFAULT VALUES;
ALTER TABLE public.processor_state{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.processor_state{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.processor_state{{ suffix }} TO service_role;

{% include 'phase2/invoke_processor_loop/processor_runs.sql' %}

{% include 'phase2/invoke_processor_loop/functions.sql' %}

