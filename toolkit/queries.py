"""The toolkit's own SQL, kept in toolkit/sql/*.sql and looked up by name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@cache
def _named(file: str) -> dict[str, str]:
    text = (SQL_DIR / file).read_text()
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def query(name: str, file: str = "queries.sql") -> str:
    return _named(file)[name]


def composed(name: str, file: str, **identifiers: str):
    """A named query whose {placeholders} are filled with quoted identifiers."""
    from psycopg import sql

    return sql.SQL(query(name, file)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


def script(file: str) -> str:
    return (SQL_DIR / file).read_text()
