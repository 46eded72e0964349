{#- Shapes the step scripts share. Import with {% from '_macros.sql' import ... -%} (the dash
    keeps the import line out of the rendered script). They render structure only: names,
    argument lists, types and settings; values reach SQL as bind parameters. -#}

{#- The header of a function that runs with its owner's rights on behalf of service_role
    (grant it with service_role_only below); the body goes in a call block, as written:

        {% call private_definer('public.name' ~ suffix, 'p_arg text', returns='jsonb') %}
        BEGIN
            ...
        END
        {% endcall %}

    The empty search_path is what makes SECURITY DEFINER safe: a name the body leaves
    unqualified (an operator, a function) resolves in pg_catalog only, never to an object a
    caller put on its own search_path.
    `config` holds further settings, e.g. 'jit = off'. Leave `returns` out when OUT
    parameters give the result. -#}
{% macro private_definer(name, args='', returns=none, language='plpgsql', volatility='VOLATILE', config=()) -%}
CREATE OR REPLACE FUNCTION {{ name }}({{ args }})
{% if returns is not none %}RETURNS {{ returns }}
{% endif %}LANGUAGE {{ language }}
{{ volatility }}
SECURITY DEFINER
{% for setting in config %}SET {{ setting }}
{% endfor %}SET search_path = ''
AS $${{ caller() }}$$;
{%- endmacro %}

{#- EXECUTE for service_role alone on each of `signatures` (schema-qualified, argument types
    only). Supabase's default privileges grant EXECUTE on every new function in public to
    anon and authenticated by name, so revoking it from PUBLIC alone would leave it with them. -#}
{% macro service_role_only(signatures) -%}
{% set revoke, grant = 'REVOKE EXECUTE ON FUNCTION ', 'GRANT EXECUTE ON FUNCTION ' -%}
{% if signatures | length == 1 -%}
{{ revoke }}{{ signatures[0] }} FROM PUBLIC, anon, authenticated;
{{ grant }}{{ signatures[0] }} TO service_role;
{%- else -%}
{{ revoke }}{{ signatures | join(',\n' ~ ' ' * revoke | length) }}
    FROM PUBLIC, anon, authenticated;
{{ grant }}{{ signatures | join(',\n' ~ ' ' * grant | length) }}
    TO service_role;
{%- endif %}
{%- endmacro %}
