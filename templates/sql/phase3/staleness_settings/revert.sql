DROP FUNCTION IF EXISTS public.registry_identifiers_valid{{ suffix }}(text, text, text);
DROP TABLE IF EXISTS public.staleness_state{{ suffix }};
DROP TABLE IF EXISTS public.staleness_config{{ suffix }};
