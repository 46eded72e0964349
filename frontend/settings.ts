// Settings of the plan the module needs, rendered by the toolkit from phases.yaml. This copy
// holds the default plan's values; a test keeps it equal to what the toolkit renders for it.

/** staleness.subscription_ttl_seconds: a viewer not seen for this long no longer counts. */
export const SUBSCRIPTION_TTL_SECONDS = 120;

/** Whether the module consults the queue system's feature flag: false once the final migration
 * (phase 6) removed the flag checks. */
export const FLAG_CHECKS = true;
