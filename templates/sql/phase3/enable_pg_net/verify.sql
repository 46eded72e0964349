{% if settings.scheduler_mode == 'postgres' -%}
SELECT toolkit.check(EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_net'), 'pg_net is installed');
{%- else -%}
SELECT toolkit.check(true, 'external scheduler mode needs no pg_net');
{%- endif %}
