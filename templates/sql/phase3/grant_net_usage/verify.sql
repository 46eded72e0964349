{% if settings.scheduler_mode == 'postgres' -%}
SELECT toolkit.check(has_schema_privilege('postgres', 'net', 'USAGE'), 'postgres has USAGE on schema net');
{%- else -%}
SELECT toolkit.check(true, 'external scheduler mode needs no net grants');
{%- endif %}
