"""LOCAL ONLY: puts the pg_net 0.20 stand-in's SQL (`net.sql`) into a local database.

Never install it on a hosted project: there the real pg_net serves schema net. The script
itself refuses to run without superuser rights (no hosted role has them), next to a real
pg_net, or over a schema net it did not make.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from toolkit.errors import ToolkitError

SCRIPT = Path(__file__).with_name("net.sql")


def install(conn: psycopg.Connection) -> None:
    """Create (or refresh) schema net and its functions in `conn`'s database, in one
    transaction. Idempotent: queued requests and responses stay."""
    try:
        with conn.transaction():
            conn.execute(SCRIPT.read_text())
    except psycopg.Error as exc:
        diag = exc.diag
        raise ToolkitError(f"the pg_net stand-in was not installed: {diag.message_primary or exc}",
                           hint=diag.message_hint) from None
