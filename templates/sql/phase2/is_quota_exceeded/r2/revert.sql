DROP FUNCTION IF EXISTS public.is_quota_exceeded{{ suffix }}();
DROP FUNCTION IF EXISTS public.get_quota_status{{ suffix }}();
