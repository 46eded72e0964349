-- The same functions with their flag checks, still under their final names (remove_suffix's
-- revert runs after this one and renames them back).
{% with suffix = final.suffix, flag_checks = true %}
{% include 'phase3/check_and_queue_stale_batch/deploy.sql' %}
{% include 'phase3/check_and_queue_stale_from_presence/deploy.sql' %}
{% include 'phase3/queue_scheduled_refreshes/deploy.sql' %}
{%- endwith %}
