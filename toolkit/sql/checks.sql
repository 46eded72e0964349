-- Queries of the checklist items toolkit/checks.py runs. {placeholders} are identifiers.

-- name: stalest_key
SELECT t.{key}::text, max(t.{ts}) AS last_at
FROM public.{table} AS t
GROUP BY t.{key}
ORDER BY max(t.{ts}) NULLS FIRST, t.{key}::text
LIMIT 1;

-- name: smoke_job
SELECT (SELECT q.status FROM public.{queue} AS q WHERE q.id = %(id)s),
       (SELECT q.last_error FROM public.{queue} AS q WHERE q.id = %(id)s),
       (SELECT max(t.{ts}) FROM public.{table} AS t WHERE t.{key}::text = %(key)s);
