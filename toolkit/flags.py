"""Feature flags: listing, switching with a reason (one audit row per change), history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit import ledger
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.queries import query

if TYPE_CHECKING:
    import psycopg

    from toolkit.config import Plan

NEEDS = "`toolkit phase apply 0` deploys the flags"
QUEUE_FLAG = "use_queue_system"
# Migration states in which a type's legacy cron job is paused: the queue is all that refreshes it.
LEGACY_PAUSED = ("legacy_disabled", "baking", "promoted")


def set_flag(conn: "psycopg.Connection", flag: str, enabled: bool, actor: str, reason: str) -> dict:
    """Switch a flag inside the caller's transaction; a flag already in that state is left alone."""
    if not reason or not reason.strip():
        raise ToolkitError("a reason is required to change a flag", hint='pass --reason "why"')
    conn.execute(query("audit_context", "flags.sql"), {"actor": actor, "reason": reason.strip()})
    row = conn.execute(query("lock_flag", "flags.sql"), {"flag": flag}).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute(query("list", "flags.sql"))]
        raise ToolkitError(f"unknown flag {flag!r}", hint=f"flags: {', '.join(known)}")
    if row[0] == enabled:
        return {"flag": flag, "old": row[0], "new": enabled, "changed": False}
    conn.execute(query("set", "flags.sql"), {"flag": flag, "enabled": enabled})
    return {"flag": flag, "old": row[0], "new": enabled, "changed": True}


class Flags:
    def __init__(self, target: Target):
        self.target = target

    def list(self) -> list[dict]:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            cur = conn.execute(query("list", "flags.sql"))
            names = [c.name for c in cur.description]
            return [dict(zip(names, row)) for row in cur]

    def set(self, flag: str, enabled: bool, actor: str, reason: str) -> dict:
        with connect(self.target) as conn, database_errors(NEEDS):
            result = set_flag(conn, flag, enabled, actor, reason)
            conn.commit()
        return {**result, "actor": actor, "reason": reason}

    def left_without_refresh(self, flag: str, plan: "Plan") -> list[str]:
        """The data types nothing would refresh with `flag` off: those migrated (their legacy
        cron job paused) that the flag serves, use_queue_system serving them all."""
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            if not ledger.exists(conn, "toolkit.migrations"):
                return []
            paused = {row[0] for row in conn.execute(query("states", "migration.sql")) if row[1] in LEGACY_PAUSED}
        return [d.name for d in plan.data_types if d.name in paused and flag in (QUEUE_FLAG, d.flag)]

    def history(self, flag: str | None, limit: int) -> list[dict]:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            cur = conn.execute(query("history", "flags.sql"), {"flag": flag, "limit": limit})
            names = [c.name for c in cur.description]
            return [dict(zip(names, row)) for row in cur]
