DROP FUNCTION IF EXISTS public.quota_window_bytes{{ suffix }}(timestamptz, public.api_quota_state{{ suffix }}, integer);
DROP FUNCTION IF EXISTS public.quota_ring_advance{{ suffix }}(integer[], bigint, bigint);
-- Configuration and quota state are derived: recreated from phases.yaml by the next deploy.
DROP TABLE IF EXISTS public.api_quota_state{{ suffix }};
DROP TABLE IF EXISTS public.queue_config{{ suffix }};
SELECT toolkit.retire_table(t) FROM to_regclass('public.api_data_usage{{ suffix }}') AS t WHERE t IS NOT NULL;
