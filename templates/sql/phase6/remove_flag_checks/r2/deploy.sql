-- The queue and staleness functions stop consulting feature flags: the functions of phase 3
-- that did are created again from their own templates with flag_checks off, under their
-- final names (remove_suffix runs before this step). The frontend module's flagless mode is
-- the same setting (Plan.flag_checks), read by its build.
{% with suffix = final.suffix, flag_checks = false %}
{% include 'phase3/check_and_queue_stale_batch/deploy.sql' %}
{% include 'phase3/check_and_queue_stale_from_presence/deploy.sql' %}
{% include 'phase3/queue_scheduled_refreshes/deploy.sql' %}
{%- endwith %}
