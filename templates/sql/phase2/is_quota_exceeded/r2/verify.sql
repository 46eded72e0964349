SELECT toolkit.check_private_function('public.is_quota_exceeded{{ suffix }}()');
SELECT toolkit.check_private_function('public.get_quota_status{{ suffix }}()');
SELECT toolkit.check(public.is_quota_exceeded{{ suffix }}() IS NOT NULL, 'is_quota_exceeded{{ suffix }}() answers');
SELECT toolkit.check((public.get_quota_status{{ suffix }}() ? 'calls_left') AND (public.get_quota_status{{ suffix }}() ? 'bytes_left'),
                     'get_quota_status{{ suffix }}() reports calls and bytes left');
