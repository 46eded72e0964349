DROP FUNCTION IF EXISTS public.recover_stuck_jobs{{ suffix }}();
