DROP FUNCTION IF EXISTS public.symbol_error(text);
DROP FUNCTION IF EXISTS public.is_valid_symbol(text);
