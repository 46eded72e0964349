"""`toolkit secrets ...`: secrets the database needs (Vault), never printed, never in argv."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from toolkit.cli.output import emit, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Secrets: the database's own (Supabase Vault). Values are never printed.")


def read_value(from_env: Optional[str], stdin: bool) -> str:
    """The value from an environment variable or standard input, never from the command line."""
    from toolkit.errors import ToolkitError

    if bool(from_env) == stdin:
        raise ToolkitError("pass exactly one of --from-env VAR or --stdin",
                           hint="values never go on the command line, where the process list shows them")
    if from_env:
        if from_env not in os.environ:
            raise ToolkitError(f"the environment variable {from_env} is not set")
        return os.environ[from_env]
    return sys.stdin.read().rstrip("\r\n")


@app.command("set-db")
def set_db(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Vault secret name, e.g. service_role_key (what the processor call sends)."),
    from_env: Optional[str] = typer.Option(None, "--from-env", metavar="VAR", help="Read the value from this variable."),
    stdin: bool = typer.Option(False, "--stdin", help="Read the value from standard input."),
    description: str = typer.Option("", "--description", help="What the secret is for."),
) -> None:
    """Store a secret in the database's Vault (create, or update in place)."""
    from toolkit.vault import set_secret

    app_ctx = ctx.obj
    value = read_value(from_env, stdin)
    target = app_ctx.target()
    app_ctx.confirm(target, f"storing Vault secret {name}", destructive=False)
    result = set_secret(target, name, value, description)
    emit(app_ctx.json, result, lambda c: c.print(f"{name}: {result['action']} in Vault"))


@app.command("list-db")
def list_db(ctx: typer.Context) -> None:
    """The database's Vault secrets by name (never their values)."""
    from toolkit.vault import list_secrets

    rows = list_secrets(ctx.obj.target())
    emit(ctx.obj.json, rows, lambda c: c.print(table(None, ["name", "description", "updated"], [
        [r["name"], r["description"] or "", r["updated_at"].strftime("%Y-%m-%d %H:%M")] for r in rows])))
