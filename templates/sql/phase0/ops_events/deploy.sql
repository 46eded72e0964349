{% from '_macros.sql' import private_definer, service_role_only -%}
-- Operational event log: the one place jobs, functions and the toolkit report what they did,
-- so monitoring can query it instead of scraping function logs.

CREATE TABLE public.ops_events (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    source  text        NOT NULL,
    level   text        NOT NULL
                        CONSTRAINT ops_events_level_valid
                        CHECK (level IN ('debug', 'info', 'warning', 'error')),
    event   text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}'::jsonb
                        -- Dashboards read details ->> 'key'; a scalar or array breaks them.
                        CONSTRAINT ops_events_details_object
                        CHECK (jsonb_typeof(details) = 'object')
);

-- "What happened lately" and "errors lately" are the two queries monitoring runs.
CREATE INDEX ops_events_at_idx ON public.ops_events (at);
CREATE INDEX ops_events_level_at_idx ON public.ops_events (level, at);

-- SECURITY DEFINER so callers (jobs, service_role) log without write access to the table.
{% call private_definer('public.log_ops_event', 'p_source text, p_level text, p_event text, p_details jsonb',
                        returns='bigint') %}
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO public.ops_events (source, level, event, details)
    VALUES (p_source, p_level, p_event, coalesce(p_details, '{}'::jsonb))
    RETURNING id INTO v_id;
    RETURN v_id;
END
{% endcall %}

-- No policy: clients never see operational details. service_role reads for dashboards and
-- the health check; writes go through log_ops_event().
ALTER TABLE public.ops_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.ops_events FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.ops_events TO service_role;
REVOKE ALL ON SEQUENCE public.ops_events_id_seq FROM PUBLIC, anon, authenticated, service_role;

{{ service_role_only(['public.log_ops_event(text, text, text, jsonb)']) }}
