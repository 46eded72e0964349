-- The processor URL back to the suffixed slug, then every rename undone, newest first, and
-- the function bodies and cron jobs as they were.
{%- for old, new in final.moved_functions.items() %}
UPDATE public.queue_config{{ final.suffix }}
SET processor_url = pg_catalog.left(processor_url, -{{ new | length }}) || '{{ old }}'
WHERE processor_url LIKE '%/{{ new }}';
{%- endfor %}

SELECT toolkit.undo_plan_renames();
