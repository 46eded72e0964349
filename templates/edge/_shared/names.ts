// Object names of the plan, rendered by the toolkit from phases.yaml (settings.suffix).
// The copy under templates/ holds the default suffix, so that the functions run as they are
// in unit tests; a test keeps it equal to what the toolkit renders for the default plan.
export const SUFFIX = "_v2";

export const SYSTEM_FLAG = "use_queue_system";

export const NAMES = {
  "active_subscriptions": "active_subscriptions_v2",
  "api_call_queue": "api_call_queue_v2",
  "api_call_queue_completed": "api_call_queue_v2_completed",
  "api_call_queue_failed": "api_call_queue_v2_failed",
  "api_call_queue_pending": "api_call_queue_v2_pending",
  "api_call_queue_processing": "api_call_queue_v2_processing",
  "api_data_usage": "api_data_usage_v2",
  "api_quota_state": "api_quota_state_v2",
  "check_and_queue_stale_batch": "check_and_queue_stale_batch_v2",
  "check_and_queue_stale_data_from_presence": "check_and_queue_stale_data_from_presence_v2",
  "check_processor_responses": "check_processor_responses_v2",
  "complete_queue_jobs": "complete_queue_jobs_v2",
  "data_type_registry": "data_type_registry_v2",
  "fail_queue_job": "fail_queue_job_v2",
  "get_queue_batch": "get_queue_batch_v2",
  "get_quota_status": "get_quota_status_v2",
  "invoke_processor_loop": "invoke_processor_loop_v2",
  "is_data_stale": "is_data_stale_v2",
  "is_profile_stale": "is_profile_stale_v2",
  "is_quota_exceeded": "is_quota_exceeded_v2",
  "maintain_queue_partitions": "maintain_queue_partitions_v2",
  "presence_analytics": "presence_analytics_v2",
  "processor_runs": "processor_runs_v2",
  "processor_state": "processor_state_v2",
  "purge_queue_history": "purge_queue_history_v2",
  "queue_config": "queue_config_v2",
  "queue_depth": "queue_depth_v2",
  "queue_metrics": "queue_metrics_v2",
  "queue_refresh_if_not_exists": "queue_refresh_if_not_exists_v2",
  "queue_refreshes": "queue_refreshes_v2",
  "queue_scheduled_refreshes": "queue_scheduled_refreshes_v2",
  "record_processor_result": "record_processor_result_v2",
  "recover_stuck_jobs": "recover_stuck_jobs_v2",
  "refresh_analytics_from_presence": "refresh_analytics_from_presence_v2",
  "reset_job_immediate": "reset_job_immediate_v2",
  "retry_failed_jobs": "retry_failed_jobs_v2",
  "staleness_config": "staleness_config_v2",
  "staleness_state": "staleness_state_v2",
  "subscription_rate_limits": "subscription_rate_limits_v2",
  "take_call_permits": "take_call_permits_v2",
  "track_subscription": "track_subscription_v2",
  "untrack_subscription": "untrack_subscription_v2"
} as const;

export const SLUGS = {
  "health-check": "health-check",
  "queue-processor": "queue-processor-v2",
  "track-subscription": "track-subscription-v2",
  "untrack-subscription": "untrack-subscription-v2"
} as const;

/** A schema-qualified name for postgres.js's identifier helper: sql(qualified("x")). */
export function qualified(base: keyof typeof NAMES): string {
  return `public.${NAMES[base]}`;
}
