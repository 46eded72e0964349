"""Targets and connections: which database a command talks to, and how errors read."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    import psycopg

    from toolkit.management import Project

TRANSACTION_POOLER_PORT = 6543
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


@dataclass(frozen=True)
class Target:
    conninfo: str
    host: str
    port: int
    dbname: str
    user: str
    project_ref: str | None
    local: bool
    # Where the Edge Functions and their secrets go: a project through the Management API, or
    # (None) the local gateway.
    functions: "Project | None" = None

    @property
    def place(self) -> str:
        """The functions' place, as toolkit.edge_deployments records it."""
        return self.functions.ref if self.functions else "local"

    @property
    def remote(self) -> bool:
        """Whether a write through this target reaches a hosted project (database or functions)."""
        return not self.local or self.functions is not None

    def describe(self) -> str:
        where = f"{self.user}@{self.host}:{self.port}/{self.dbname}"
        if self.project_ref:
            return f"Supabase project {self.project_ref} ({where})"
        return ("local " if self.local else "") + where


def _project_ref(host: str, user: str) -> str | None:
    m = re.fullmatch(r"db\.([a-z0-9]{20})\.supabase\.co", host)
    if m:
        return m.group(1)
    m = re.fullmatch(r"postgres\.([a-z0-9]{20})", user)  # the Supavisor pooler's user form
    return m.group(1) if m else None


def target_from_url(url: str) -> Target:
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception as exc:  # psycopg raises ProgrammingError for unparsable strings
        raise ToolkitError(f"--db-url is not a valid PostgreSQL connection string: {exc}") from None
    host = str(parts.get("host") or "")
    port = int(parts.get("port") or 5432)
    user = str(parts.get("user") or "postgres")
    if port == TRANSACTION_POOLER_PORT:
        raise ToolkitError(
            f"port {port} is Supabase's transaction pooler, where advisory locks and SET do not hold "
            "across statements; use the direct connection (port 5432) or the session pooler",
        )
    return Target(
        conninfo=url,
        host=host or "localhost",
        port=port,
        dbname=str(parts.get("dbname") or user),
        user=user,
        project_ref=_project_ref(host, user),
        local=host in LOCAL_HOSTS or host.startswith("/"),
    )


class CannotConnect(ToolkitError):
    """The database did not take the connection; `sqlstate` says why when the server answered."""

    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


def connect(target: Target, autocommit: bool = False) -> "psycopg.Connection":
    import psycopg

    try:
        return psycopg.connect(
            target.conninfo, autocommit=autocommit, connect_timeout=10, application_name="toolkit"
        )
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CannotConnect(f"cannot connect to {target.describe()}: {first}", exc.sqlstate) from None


def sql_error_message(exc: Exception) -> str:
    """One readable line (plus detail and hint) for a database error."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
    parts = [primary]
    for extra in ("message_detail", "message_hint"):
        text = getattr(diag, extra, None)
        if text and text != "toolkit-verify":
            parts.append(text)
    sqlstate = getattr(exc, "sqlstate", None)
    return " — ".join(parts) + (f" [SQLSTATE {sqlstate}]" if sqlstate else "")


# SQLSTATEs that mean "the objects a command needs are not deployed on this target".
MISSING_OBJECT = {"42883", "42P01", "3F000"}


@contextmanager
def database_errors(needs: str | None = None) -> Iterator[None]:
    """Turn database errors into domain errors; `needs` names what deploys missing objects."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        if getattr(exc, "sqlstate", None) in MISSING_OBJECT and needs:
            raise ToolkitError(f"{sql_error_message(exc)}", hint=f"is it deployed? {needs}") from None
        raise ToolkitError(sql_error_message(exc)) from None
