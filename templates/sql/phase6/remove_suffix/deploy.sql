{% set renames = final.renames() -%}
-- The plan's objects lose the suffix {{ final.plan_suffix }}: tables and their partitions,
-- indexes, sequences, constraints, triggers and policies, views, types and functions,
-- then the function bodies and the pg_cron jobs that name them (toolkit.rename_plan_objects,
-- which logs every rename in toolkit.final_renames for the revert). Renames keep every row,
-- grant and dependency; in one transaction with the rest of phase 6.
--
-- The objects to rename are what toolkit.final.rename_plan found: the names toolkit.names
-- lists and every name carrying the suffix in the templates of phases 0 to 5.
SELECT toolkit.rename_plan_objects('{{ renames["objects"] | tojson }}'::jsonb,
                                   '{{ renames["cron_jobs"] | tojson }}'::jsonb,
                                   '{{ final.plan_suffix }}');

-- The Edge Functions move to their base slugs: the processor URL pg_net calls follows.
{%- for old, new in final.moved_functions.items() %}
UPDATE public.queue_config{{ final.suffix }}
SET processor_url = pg_catalog.left(processor_url, -{{ old | length }}) || '{{ new }}'
WHERE processor_url LIKE '%/{{ old }}';
{%- endfor %}
