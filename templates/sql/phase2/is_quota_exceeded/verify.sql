SELECT toolkit.check(to_regprocedure('public.is_quota_exceeded{{ suffix }}()') IS NOT NULL, 'is_quota_exceeded{{ suffix }}() exists');
SELECT toolkit.check(to_regprocedure('public.get_quota_status{{ suffix }}()') IS NOT NULL, 'get_quota_status{{ suffix }}() exists');
SELECT toolkit.check(public.is_quota_exceeded{{ suffix }}() IS NOT NULL, 'is_quota_exceeded{{ suffix }}() answers');
SELECT toolkit.check((public.get_quota_status{{ suffix }}() ? 'calls_left') AND (public.get_quota_status{{ suffix }}() ? 'bytes_left'),
                     'get_quota_status{{ suffix }}() reports calls and bytes left');
SELECT toolkit.check(NOT has_function_privilege(r, f, 'EXECUTE'), format('%s cannot execute %s', r, f))
FROM unnest(ARRAY['anon', 'authenticated']) AS r,
     unnest(ARRAY['public.is_quota_exceeded{{ suffix }}()', 'public.get_quota_status{{ suffix }}()']) AS f;
