DROP FUNCTION IF EXISTS public.is_profile_stale{{ suffix }}(timestamptz, integer, boolean);
