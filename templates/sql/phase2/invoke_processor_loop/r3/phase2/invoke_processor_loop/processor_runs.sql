-- One row per processor run as the breaker saw it (the processor's own report, or the failed
-- call of it reported by the ticker or the pg_net response check): its error-rate window.
-- Rows older than a day past the window are pruned as new ones come. (deploy.sql and its
-- upgrades include this file.)
CREATE TABLE public.processor_runs{{ suffix }} (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    ok       boolean     NOT NULL,
    calls    integer     NOT NULL CHECK (calls >= 0),
    failures integer     NOT NULL CHECK (failures >= 0),
    error    text
);
CREATE INDEX processor_runs{{ suffix }}_at_idx ON public.processor_runs{{ suffix }} (at);
ALTER TABLE public.processor_runs{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.processor_runs{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.processor_runs{{ suffix }} TO service_role;
REVOKE ALL ON SEQUENCE public.processor_runs{{ suffix }}_id_seq FROM PUBLIC, anon, authenticated, service_role;
