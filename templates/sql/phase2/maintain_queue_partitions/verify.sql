SELECT toolkit.check(to_regprocedure(f) IS NOT NULL, f || ' exists')
FROM unnest(ARRAY['public.maintain_queue_partitions{{ suffix }}()', 'public.retry_failed_jobs{{ suffix }}(text, integer)',
                  'public.purge_queue_history{{ suffix }}(interval, integer)']) AS f;
SELECT toolkit.check(NOT has_function_privilege(r, f, 'EXECUTE'), r || ' cannot execute ' || f)
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.maintain_queue_partitions{{ suffix }}()', 'public.retry_failed_jobs{{ suffix }}(text, integer)',
                  'public.purge_queue_history{{ suffix }}(interval, integer)']) AS f;
SELECT toolkit.check(public.maintain_queue_partitions{{ suffix }}() ? 'more', 'maintain_queue_partitions{{ suffix }} reports its work');
