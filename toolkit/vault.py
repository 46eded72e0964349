"""Secrets the database needs, in Supabase Vault: stored through `vault.create_secret` and
`vault.update_secret` (what a hosted `postgres` may do), listed by name, never printed."""

from __future__ import annotations

import re

from toolkit import ledger
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.queries import query

FILE = "vault.sql"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAX_VALUE = 64 * 1024


def _check(name: str, value: str) -> None:
    if not NAME.match(name):
        raise ToolkitError(f"{name!r} is not a secret name (letters, digits and _, at most 63, not starting with a digit)")
    if not value:
        raise ToolkitError(f"the value for {name} is empty; nothing was stored")
    if len(value) > MAX_VALUE:
        raise ToolkitError(f"the value for {name} is longer than {MAX_VALUE} characters; nothing was stored")


def set_secret(target: Target, name: str, value: str, description: str = "") -> dict:
    """Create the secret, or give an existing one the new value; returns what was done, not the value."""
    _check(name, value)
    with connect(target, autocommit=True) as conn, database_errors():
        if not ledger.exists(conn, "vault.secrets"):
            raise ToolkitError(f"{target.describe()} has no Vault (schema vault)",
                               hint="Supabase projects have it; `toolkit local up` builds a local one")
        with conn.transaction():
            row = conn.execute(query("find", FILE), {"name": name}).fetchone()
            params = {"name": name, "value": value, "description": description}
            if row is None:
                conn.execute(query("create", FILE), params)
                return {"name": name, "action": "created"}
            conn.execute(query("update", FILE), {**params, "id": row[0]})
    return {"name": name, "action": "updated"}


def list_secrets(target: Target) -> list[dict]:
    with connect(target, autocommit=True) as conn, database_errors():
        if not ledger.exists(conn, "vault.secrets"):
            return []
        cur = conn.execute(query("list", FILE))
        return [dict(zip([c.name for c in cur.description], r)) for r in cur]
