"""The toolkit's own schema (`toolkit.*`): numbered migrations in toolkit/sql/migrations,
applied in order and recorded in toolkit.schema_version, as graphile-worker and Flyway do.

Every command that writes to the toolkit schema calls `upgrade` first (through
`ledger.install`): it brings the schema from the version it has to the newest this toolkit
knows, in one transaction under the install lock. Read-only commands only call `readable`,
which creates nothing. A schema newer than this toolkit is refused by both.

A later table or column is one more file, `NNNN_<what>.sql`, numbered after the last one
(templates/README.md, "The toolkit's own schema"). A released file never changes: the lock
file (templates/sql/revisions.lock) holds its checksum, and `toolkit export supabase` writes
each file as a migration of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import __version__
from toolkit.errors import ToolkitError
from toolkit.queries import SQL_DIR, query

if TYPE_CHECKING:
    import psycopg

MIGRATIONS_DIR = SQL_DIR / "migrations"
FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Serializes concurrent upgrades (two commands starting at once against a fresh database).
INSTALL_LOCK = 4_244_002


@dataclass(frozen=True)
class Migration:
    version: int
    name: str        # the file's stem, e.g. 0002_revisions
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()


@cache
def migrations() -> tuple[Migration, ...]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = FILE_NAME.match(path.name)
        if not m:
            raise ToolkitError(f"{path}: a toolkit schema migration is named NNNN_<what>.sql")
        found.append(Migration(int(m.group(1)), path.stem, path))
    numbers = [m.version for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise ToolkitError(f"{MIGRATIONS_DIR}: migrations must be numbered 1, 2, 3, ... without gaps (found {numbers})")
    return tuple(found)


def latest() -> int:
    return len(migrations())


def installed(conn: "psycopg.Connection") -> int:
    """The schema's version: 0 when there is none, or only the unversioned layout of a toolkit
    older than the versions (which migration 1 completes, being idempotent)."""
    if not conn.execute(query("relation_exists"), {"name": "toolkit.schema_version"}).fetchone()[0]:
        return 0
    return conn.execute(query("schema_version")).fetchone()[0]


def _refuse_newer(version: int, conn: "psycopg.Connection") -> None:
    if version > latest():
        where = conn.info.dbname
        raise ToolkitError(
            f"the toolkit schema in database {where} is at version {version}, newer than this toolkit "
            f"({__version__}) knows (version {latest()}); it was written by a newer toolkit",
            hint="upgrade the toolkit before running it against this database; nothing was changed",
        )


def readable(conn: "psycopg.Connection") -> int:
    """The installed version, for reading only (creates nothing); a newer schema is refused."""
    version = installed(conn)
    _refuse_newer(version, conn)
    return version


def upgrade(conn: "psycopg.Connection") -> list[str]:
    """Bring the toolkit schema to the newest version, in one transaction; the names applied."""
    applied = []
    with conn.transaction():
        conn.execute(query("take_xact_lock"), {"key": INSTALL_LOCK})
        version = installed(conn)
        _refuse_newer(version, conn)
        for m in migrations()[version:]:
            conn.execute(m.sql)
            conn.execute(query("schema_version_insert"),
                         {"version": m.version, "name": m.name, "toolkit_version": __version__})
            applied.append(m.name)
    return applied
