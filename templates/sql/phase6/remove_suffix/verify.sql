{% set renames = final.renames() -%}
-- Nothing of the plan keeps the suffix: no object under an old name, nothing hanging off the
-- plan's tables that carries it, no function body or cron job naming an old name.
SELECT toolkit.check(NOT EXISTS (
           SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = n.old
           UNION ALL SELECT FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = 'public'::regnamespace AND p.proname = n.old
           UNION ALL SELECT FROM pg_catalog.pg_type AS t WHERE t.typnamespace = 'public'::regnamespace AND t.typname = n.old),
       pg_catalog.format('public.%s is renamed to %s', n.old, n.new))
FROM pg_catalog.jsonb_each_text('{{ renames["objects"] | tojson }}'::jsonb) AS n(old, new);

SELECT toolkit.check(count(*) = 0, 'objects of the plan''s tables still carry the suffix {{ final.plan_suffix }}: '
                                   || pg_catalog.string_agg(x.name, ', '))
FROM (SELECT c.conname AS name, c.conrelid AS rel FROM pg_catalog.pg_constraint AS c
      UNION ALL SELECT g.tgname, g.tgrelid FROM pg_catalog.pg_trigger AS g WHERE NOT g.tgisinternal
      UNION ALL SELECT p.polname, p.polrelid FROM pg_catalog.pg_policy AS p
      UNION ALL SELECT i.relname, x.indrelid FROM pg_catalog.pg_index AS x JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid) AS x
JOIN pg_catalog.pg_class AS t ON t.oid = x.rel
WHERE t.relnamespace = 'public'::regnamespace AND t.relname IN (SELECT n.new FROM pg_catalog.jsonb_each_text('{{ renames["objects"] | tojson }}'::jsonb) AS n(old, new))
  AND toolkit.unsuffixed(x.name, '{{ final.plan_suffix }}') IS NOT NULL;

SELECT toolkit.check(count(*) = 0, 'function bodies still name objects under their old names: '
                                   || pg_catalog.string_agg(p.oid::regprocedure::text, ', '))
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace = 'public'::regnamespace AND p.prosqlbody IS NULL
  AND p.prosrc ~ ('\m(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.jsonb_object_keys('{{ renames["objects"] | tojson }}'::jsonb)), '|') || ')\M');

SELECT toolkit.check(count(*) = 0, 'pg_cron jobs still carry or call old names: ' || pg_catalog.string_agg(j.jobname, ', '))
FROM cron.job AS j
WHERE j.jobname IN (SELECT pg_catalog.jsonb_object_keys('{{ renames["cron_jobs"] | tojson }}'::jsonb))
   OR j.command ~ ('\m(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.jsonb_object_keys('{{ renames["objects"] | tojson }}'::jsonb)), '|') || ')\M');
{%- for old, new in final.moved_functions.items() %}

SELECT toolkit.check(c.processor_url NOT LIKE '%/{{ old }}',
                     'the processor URL ' || c.processor_url || ' calls {{ new }}, not {{ old }}')
FROM public.queue_config{{ final.suffix }} AS c;
{%- endfor %}
