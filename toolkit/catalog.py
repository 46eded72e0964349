"""The catalog fingerprint of each applied step: which objects the step made (learned by
diffing the catalog around its deploy) and a digest of each as the toolkit left it, kept in
the ledger. A step whose objects are gone or differ from their digests no longer matches the
revision it recorded: `phase plan` reports it as drift. The digests come from
toolkit.catalog_objects() (toolkit schema migration 0002), which reads the catalog only.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from toolkit.queries import query

if TYPE_CHECKING:
    import psycopg

Objects = dict[str, str]            # identity -> digest
Address = tuple[int, int]           # (catalog, oid)


def _read(conn: "psycopg.Connection") -> dict[Address, tuple[str, str]] | None:
    if not conn.execute(query("catalog_ready")).fetchone()[0]:
        return None
    return {(c, o): (identity, digest) for c, o, identity, digest in conn.execute(query("catalog_objects"))}


def objects(conn: "psycopg.Connection") -> Objects | None:
    """identity -> digest of every object the connected role owns (None: the toolkit schema is
    older than the fingerprints; nothing is created to find out)."""
    found = _read(conn)
    return None if found is None else dict(found.values())


def differences(recorded: Objects, current: Objects) -> list[str]:
    """What no longer matches, one phrase per object."""
    found = []
    for identity, digest in sorted(recorded.items()):
        if identity not in current:
            found.append(f"{identity} is gone")
        elif current[identity] != digest:
            found.append(f"{identity} changed")
    return found


def summary(problems: list[str], most: int = 3) -> str:
    more = len(problems) - most
    return "; ".join(problems[:most]) + (f"; and {more} more" if more > 0 else "")


class Tracker:
    """Follows one writing run (apply, upgrade, downgrade): learns which objects each step it
    runs makes, and records the fingerprints at the end of each transaction. A step it ran
    keeps the objects it had and gains those it made; another step whose objects the run
    changed (an upgrade may alter a table another step's function reads) gets their new
    digests and keeps the rest as recorded, so that changes made outside the toolkit still
    show."""

    def __init__(self, conn: "psycopg.Connection", done: dict):
        self.conn = conn
        self.done = done
        self.before = objects(conn) or {}
        self.made: dict[tuple[int, str], set[Address]] = {}
        self._addresses: set[Address] | None = None

    def _snapshot(self) -> set[Address]:
        return set(self.conn.execute(query("catalog_addresses")).fetchall())

    @contextmanager
    def step(self, key: tuple[int, str]) -> Iterator[None]:
        before = self._addresses if self._addresses is not None else self._snapshot()
        yield
        self._addresses = self._snapshot()
        self.made[key] = self.made.get(key, set()) | (self._addresses - before)

    def record(self) -> None:
        from toolkit import ledger

        found = _read(self.conn) or {}
        after = dict(found.values())
        changed = {i for i in set(self.before) | set(after) if self.before.get(i) != after.get(i)}
        for (phase, step), made in self.made.items():
            entry = self.done.get((phase, step))
            ids = set(entry.objects or {}) if entry else set()
            ids |= {found[a][0] for a in made if a in found}
            ledger.set_objects(self.conn, phase=phase, step=step, objects={i: after[i] for i in sorted(ids) if i in after})
        for (phase, step), entry in self.done.items():
            if (phase, step) in self.made or not entry.objects or not changed & set(entry.objects):
                continue
            kept = {i: (after[i] if i in changed else d) for i, d in entry.objects.items() if i in after}
            ledger.set_objects(self.conn, phase=phase, step=step, objects=kept)
