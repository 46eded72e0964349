"""Roll out the queue-based, presence-driven refresh system onto a Supabase project.

This package is what may talk to a hosted project: the plan, rendering, the apply engine and
its ledger, flags, migration, checklists, PROGRESS.md and queue operations, all of which work
as a hosted project's non-superuser `postgres`. It must never depend on the local stand-ins of
`toolkit.dev` for anything it does to a target, only to reach the local stack when that is
the target.
"""

__version__ = "0.1.0"
