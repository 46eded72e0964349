-- Revision 2: a 2xx of the processor is its own report to the breaker; a failed call is a failed run. Functions only (CREATE OR REPLACE), the same signatures.
{% include 'phase3/check_and_queue_stale_from_presence/deploy.sql' %}
