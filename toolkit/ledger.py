"""The ledger in schema `toolkit`: which steps are applied, with what checksum, by whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from toolkit import __version__
from toolkit.queries import query, script

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Entry:
    phase: int
    step: str
    checksum: str
    template_hash: str
    applied_by: str
    applied_at: datetime
    toolkit_version: str
    duration_ms: int
    verified_at: datetime | None
    verify_ok: bool | None


# The toolkit schema, in order: the ledger first; the other scripts add their own tables.
SCHEMA_SCRIPTS = ("ledger.sql", "checklists.sql", "migrations.sql", "final_migration.sql", "baselines.sql")
# Serializes concurrent installs (CREATE ... IF NOT EXISTS races on the catalogs otherwise).
INSTALL_LOCK = 4_244_002


def install(conn: "psycopg.Connection") -> None:
    """Create or update the toolkit schema; safe to call from any command, any number of times."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [INSTALL_LOCK])
        for name in SCHEMA_SCRIPTS:
            conn.execute(_schema_script(name))


def _schema_script(name: str):
    if name != "migrations.sql":
        return script(name)
    from psycopg import sql

    from toolkit.states import MIGRATION_STATES

    states = sql.SQL(", ").join(sql.Literal(s) for s, _ in MIGRATION_STATES)
    return sql.SQL(script(name)).format(states=states)


def exists(conn: "psycopg.Connection", relation: str) -> bool:
    """Whether a toolkit table is there yet: read-only commands must not create the schema."""
    return bool(conn.execute(query("relation_exists"), {"name": relation}).fetchone()[0])


def entries(conn: "psycopg.Connection") -> dict[tuple[int, str], Entry]:
    if not exists(conn, "toolkit.ledger"):
        return {}
    rows = conn.execute(query("ledger_entries")).fetchall()
    return {(r[0], r[1]): Entry(*r) for r in rows}


def record_applied(conn, *, phase: int, step: str, checksum: str, template_hash: str,
                   actor: str, duration_ms: int) -> None:
    conn.execute(query("ledger_insert"), {
        "phase": phase, "step": step, "checksum": checksum, "template_hash": template_hash,
        "actor": actor, "version": __version__, "duration_ms": duration_ms,
    })


def forget(conn, *, phase: int, step: str) -> None:
    conn.execute(query("ledger_delete"), {"phase": phase, "step": step})


def mark_verified(conn, *, phase: int, step: str, ok: bool) -> None:
    conn.execute(query("ledger_mark_verified"), {"phase": phase, "step": step, "ok": ok})


def history(conn, *, action: str, phase: int, actor: str, ok: bool, step: str | None = None,
            checksum: str | None = None, detail: str | None = None) -> None:
    conn.execute(query("history_insert"), {
        "action": action, "phase": phase, "step": step, "checksum": checksum, "actor": actor,
        "version": __version__, "ok": ok, "detail": detail,
    })
