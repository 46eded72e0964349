SELECT toolkit.check_private_function('public.maintain_queue_partitions{{ suffix }}()');
SELECT toolkit.check_private_function('public.retry_failed_jobs{{ suffix }}(text, integer)');
SELECT toolkit.check_private_function('public.purge_queue_history{{ suffix }}(interval, integer)');
SELECT toolkit.check(public.maintain_queue_partitions{{ suffix }}() ? 'more', 'maintain_queue_partitions{{ suffix }} reports its work');
