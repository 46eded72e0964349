-- Revision 2: a failed job retried starts without a lease. Functions only (CREATE OR REPLACE), the same signatures.
{% include 'phase2/maintain_queue_partitions/deploy.sql' %}
