DROP FUNCTION IF EXISTS public.is_valid_identifier(text);
