SELECT toolkit.check(to_regclass('public.api_data_usage{{ suffix }}') IS NOT NULL, 'api_data_usage{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.queue_config{{ suffix }}') IS NOT NULL, 'queue_config{{ suffix }} exists');
SELECT toolkit.check(to_regclass('public.api_quota_state{{ suffix }}') IS NOT NULL, 'api_quota_state{{ suffix }} exists');
SELECT bucket, calls, bytes, errors, completed_jobs, failed_jobs FROM public.api_data_usage{{ suffix }} WHERE false;
SELECT toolkit.check((SELECT count(*) = 1 FROM public.queue_config{{ suffix }}), 'queue_config{{ suffix }} holds one row');
SELECT toolkit.check(
    (SELECT c.calls_per_window = (toolkit.param('settings') #>> '{quotas,calls_per_window}')::integer
        AND c.bytes_per_window = (toolkit.param('settings') #>> '{quotas,bytes_per_window}')::bigint
        AND c.max_attempts = (toolkit.param('settings') #>> '{queue,max_attempts}')::integer
     FROM public.queue_config{{ suffix }} AS c),
    'queue_config{{ suffix }} matches the plan''s settings');
SELECT toolkit.check(
    (SELECT c.call_slack_seconds = (toolkit.param('settings') #>> '{quotas,call_slack_seconds}')::integer
        AND c.call_slack_ms = (toolkit.param('settings') #>> '{quotas,call_slack_ms}')::integer
        AND c.breaker_failure_threshold = (toolkit.param('settings') #>> '{breaker,failure_threshold}')::integer
        AND c.breaker_error_rate = (toolkit.param('settings') #>> '{breaker,error_rate}')::double precision
        AND c.breaker_probe_calls = (toolkit.param('settings') #>> '{breaker,probe_calls}')::integer
     FROM public.queue_config{{ suffix }} AS c),
    'queue_config{{ suffix }} holds the plan''s call slack and breaker settings');
SELECT toolkit.check(
    (SELECT cardinality(s.call_ring) = ceil((c.call_window_seconds * 1000 + c.call_slack_ms) / s.ring_slot_ms::numeric) + 2
        AND s.call_ring[1] = (SELECT sum(x) FROM unnest(s.call_ring[2:]) AS x)
     FROM public.api_quota_state{{ suffix }} AS s, public.queue_config{{ suffix }} AS c),
    'api_quota_state{{ suffix }} ring covers the call window and the call slack, and its first element is their total');
SELECT bucket, refused_acks FROM public.api_data_usage{{ suffix }} WHERE false;
SELECT toolkit.check(
    (SELECT c.processor_drain = toolkit.param('settings') #>> '{processor,drain}'
        AND c.processor_run_seconds = (toolkit.param('settings') #>> '{processor,run_seconds}')::integer
        AND c.processor_idle_poll_ms = (toolkit.param('settings') #>> '{processor,idle_poll_ms}')::integer
     FROM public.queue_config{{ suffix }} AS c),
    'queue_config{{ suffix }} holds the plan''s processor settings');
SELECT toolkit.check(NOT has_table_privilege(r, t, p), format('%s has no %s on %s', r, p, t))
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.api_data_usage{{ suffix }}', 'public.queue_config{{ suffix }}', 'public.api_quota_state{{ suffix }}']) AS t,
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p;
SELECT toolkit.check(c.relrowsecurity, format('RLS on %s', c.relname))
FROM pg_class AS c WHERE c.oid IN ('public.api_data_usage{{ suffix }}'::regclass, 'public.queue_config{{ suffix }}'::regclass,
                                   'public.api_quota_state{{ suffix }}'::regclass);
-- The ring (the total, then the slots): a slot 5 slots after the last write clears the 5 slots in between.
SELECT toolkit.check(
    public.quota_ring_advance{{ suffix }}(ARRAY[10,1,1,1,1,1,1,1,1,1,1], 10, 15) = ARRAY[5,1,0,0,0,0,0,1,1,1,1]
    AND public.quota_ring_advance{{ suffix }}(ARRAY[3,1,1,1], 10, 99) = ARRAY[0,0,0,0],
    'quota_ring_advance{{ suffix }} clears expired slots');
-- Slot numbers outgrow integer (as epoch seconds do past 2038-01-19 03:14:07 UTC): they still advance the ring.
SELECT toolkit.check(
    public.quota_ring_advance{{ suffix }}(ARRAY[5,1,1,1,1,1], 2147483646, 2147483649) = ARRAY[2,1,1,0,0,0]
    AND public.quota_ring_advance{{ suffix }}(ARRAY[5,1,1,1,1,1], 4102444800, 4102444801) = ARRAY[4,1,0,1,1,1],
    'quota_ring_advance{{ suffix }} works past 2038-01-19');
-- The quota arithmetic runs with its caller's rights and a fixed search_path, for service_role only.
SELECT toolkit.check_private_function(f, definer => false)
FROM unnest(ARRAY['public.quota_ring_advance{{ suffix }}(integer[], bigint, bigint)',
                  'public.quota_window_bytes{{ suffix }}(timestamptz, public.api_quota_state{{ suffix }}, integer)']) AS f;
