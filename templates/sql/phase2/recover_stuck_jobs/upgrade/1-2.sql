-- Revision 2: a recovered job's lease ends. Functions only (CREATE OR REPLACE), the same signatures.
{% include 'phase2/recover_stuck_jobs/deploy.sql' %}
