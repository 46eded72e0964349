{% from '_macros.sql' import private_definer, service_role_only -%}
-- Who is watching what: viewers per symbol and data type among live subscriptions, for
-- monitoring and for prioritising. Rebuilt in place each run; symbols nobody watches any
-- more leave the table.
CREATE TABLE public.presence_analytics{{ suffix }} (
    symbol      text        NOT NULL,
    data_type   text        NOT NULL,
    viewers     integer     NOT NULL CHECK (viewers > 0),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, data_type)
);
CREATE INDEX presence_analytics{{ suffix }}_viewers_idx ON public.presence_analytics{{ suffix }} (viewers DESC);
ALTER TABLE public.presence_analytics{{ suffix }} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE public.presence_analytics{{ suffix }} FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.presence_analytics{{ suffix }} TO service_role;

{% call private_definer('public.refresh_analytics_from_presence' ~ suffix, returns='jsonb') %}
DECLARE
    scfg    public.staleness_config{{ suffix }};
    upserts bigint;
    gone    bigint;
BEGIN
    SELECT * INTO STRICT scfg FROM public.staleness_config{{ suffix }};
    WITH live AS (
        SELECT s.symbol, t.data_type, count(*)::integer AS viewers
        FROM public.active_subscriptions{{ suffix }} AS s
        CROSS JOIN LATERAL pg_catalog.unnest(s.data_types) AS t(data_type)
        WHERE s.last_seen > pg_catalog.now() - pg_catalog.make_interval(secs => scfg.subscription_ttl_seconds)
        GROUP BY s.symbol, t.data_type
    ), up AS (
        INSERT INTO public.presence_analytics{{ suffix }} AS a (symbol, data_type, viewers)
        SELECT l.symbol, l.data_type, l.viewers FROM live AS l
        ON CONFLICT (symbol, data_type) DO UPDATE
        SET viewers = excluded.viewers, updated_at = pg_catalog.now()
        WHERE a.viewers IS DISTINCT FROM excluded.viewers
        RETURNING 1
    ), del AS (
        DELETE FROM public.presence_analytics{{ suffix }} AS a
        WHERE NOT EXISTS (SELECT 1 FROM live AS l WHERE l.symbol = a.symbol AND l.data_type = a.data_type)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM del) INTO upserts, gone;
    RETURN pg_catalog.jsonb_build_object(
        'changed', upserts, 'removed', gone,
        'watched_pairs', (SELECT count(*) FROM public.presence_analytics{{ suffix }}),
        'viewers', (SELECT COALESCE(sum(a.viewers), 0) FROM public.presence_analytics{{ suffix }} AS a));
END
{% endcall %}

{{ service_role_only(['public.refresh_analytics_from_presence' ~ suffix ~ '()']) }}
