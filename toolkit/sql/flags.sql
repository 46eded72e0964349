-- Queries of `toolkit flags` and of the migration commands that switch flags.

-- name: list
SELECT flag_name, enabled, description, updated_at, updated_by
FROM public.feature_flags ORDER BY flag_name;

-- name: audit_context
SELECT set_config('toolkit.actor', %(actor)s, true), set_config('toolkit.reason', %(reason)s, true);

-- name: lock_flag
SELECT enabled FROM public.feature_flags WHERE flag_name = %(flag)s FOR UPDATE;

-- name: set
UPDATE public.feature_flags SET enabled = %(enabled)s WHERE flag_name = %(flag)s;

-- name: history
SELECT id, flag_name, old_enabled, new_enabled, actor, reason, at
FROM public.feature_flag_audit
WHERE %(flag)s::text IS NULL OR flag_name = %(flag)s
ORDER BY at DESC, id DESC
LIMIT %(limit)s;
