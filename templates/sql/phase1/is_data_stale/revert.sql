DROP FUNCTION IF EXISTS public.is_data_stale{{ suffix }}(timestamptz, integer);
