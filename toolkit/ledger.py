"""The ledger in schema `toolkit`: which steps are applied, at which revision, with what
checksum and catalog fingerprint, by whom; and the history of every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from toolkit import __version__, schema
from toolkit.queries import query

# The schema version from which the ledger records revisions and fingerprints.
REVISIONS_VERSION = 2

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
    revision: int
    objects: dict[str, str] | None     # the step's catalog fingerprint; None before schema version 2


def install(conn: "psycopg.Connection") -> None:
    """Create the toolkit schema or bring it to the newest version; what every command that
    writes to it calls first, any number of times."""
    schema.upgrade(conn)


def exists(conn: "psycopg.Connection", relation: str) -> bool:
    """Whether a toolkit table is there yet: read-only commands must not create the schema."""
    return bool(conn.execute(query("relation_exists"), {"name": relation}).fetchone()[0])


def entries(conn: "psycopg.Connection") -> dict[tuple[int, str], Entry]:
    """The applied steps; reads any schema version this toolkit knows and changes nothing."""
    if not exists(conn, "toolkit.ledger"):
        return {}
    version = schema.readable(conn)
    rows = conn.execute(query("ledger_entries" if version >= REVISIONS_VERSION else "ledger_entries_v1")).fetchall()
    return {(r[0], r[1]): Entry(*r) for r in rows}


def record_applied(conn, *, phase: int, step: str, revision: int, checksum: str, template_hash: str,
                   actor: str, duration_ms: int) -> None:
    conn.execute(query("ledger_insert"), {
        "phase": phase, "step": step, "revision": revision, "checksum": checksum, "template_hash": template_hash,
        "actor": actor, "version": __version__, "duration_ms": duration_ms,
    })


def record_revised(conn, *, phase: int, step: str, revision: int, checksum: str, template_hash: str,
                   actor: str, duration_ms: int) -> None:
    """The step moved to another revision (upgrade, or a downgrade by its down script)."""
    conn.execute(query("ledger_revise"), {
        "phase": phase, "step": step, "revision": revision, "checksum": checksum, "template_hash": template_hash,
        "actor": actor, "version": __version__, "duration_ms": duration_ms,
    })


def set_objects(conn, *, phase: int, step: str, objects: dict[str, str]) -> None:
    from psycopg.types.json import Jsonb

    conn.execute(query("ledger_set_objects"), {"phase": phase, "step": step, "objects": Jsonb(objects)})


def forget(conn, *, phase: int, step: str) -> None:
    conn.execute(query("ledger_delete"), {"phase": phase, "step": step})


def mark_verified(conn, *, phase: int, step: str, ok: bool) -> None:
    conn.execute(query("ledger_mark_verified"), {"phase": phase, "step": step, "ok": ok})


def history(conn, *, action: str, phase: int, actor: str, ok: bool, step: str | None = None,
            revision: int | None = None, checksum: str | None = None, detail: str | None = None) -> None:
    conn.execute(query("history_insert"), {
        "action": action, "phase": phase, "step": step, "revision": revision, "checksum": checksum,
        "actor": actor, "version": __version__, "ok": ok, "detail": detail,
    })
