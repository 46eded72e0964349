-- Revision 2: completion takes the claim's lease. The signatures without it are dropped (a
-- worker of revision 1 can no longer acknowledge; its jobs are recovered after the stuck
-- timeout), then deploy.sql makes the functions again (a redeploy).
DROP FUNCTION IF EXISTS public.complete_queue_job{{ suffix }}(bigint, bigint);
DROP FUNCTION IF EXISTS public.complete_queue_jobs{{ suffix }}(bigint[], bigint[]);
