"""`toolkit secrets ...`: the Edge Functions' secrets (a project's, through the Management API)
and the database's own (Vault); values never printed, never in argv."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from toolkit.cli.output import emit, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Secrets: the Edge Functions' (set, list, unset) and the database's own (set-db, list-db, "
                       "Supabase Vault). Values are never printed.")


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


# ---------------------------------------------------------------------------------------
# The functions' secrets (a project's, through the Management API)

def _project(app_ctx):
    return app_ctx.functions_project(required=True)


@app.command("set")
def set_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Secret name, e.g. MARKET_DATA_API_KEY (not SUPABASE_...)."),
    from_env: Optional[str] = typer.Option(None, "--from-env", metavar="VAR", help="Read the value from this variable."),
    stdin: bool = typer.Option(False, "--stdin", help="Read the value from standard input."),
) -> None:
    """Set a secret the project's Edge Functions read (create, or replace its value)."""
    from toolkit.secrets import check_name, check_value, set_secret

    app_ctx = ctx.obj
    check_name(name)
    value = check_value(name, read_value(from_env, stdin))
    project = _project(app_ctx)
    app_ctx.confirm_project(project, f"setting secret {name}", destructive=False,
                            changes=[f"set {name} for the project's Edge Functions"])
    result = set_secret(project, name, value)
    emit(app_ctx.json, result, lambda c: c.print(f"{name}: {result['action']} (digest {result['digest'][:12]}…)",
                                                 highlight=False))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The project's function secrets: names and digests of the values, never the values."""
    from toolkit.secrets import list_secrets

    rows = list_secrets(_project(ctx.obj))
    emit(ctx.obj.json, rows, lambda c: c.print(table(None, ["name", "digest", "updated"], [
        [r["name"], r["digest"], r["updated_at"] or ""] for r in rows])))


@app.command("unset")
def unset(ctx: typer.Context, names: List[str] = typer.Argument(..., help="Secret names to remove.")) -> None:
    """Remove secrets from the project (functions that read them stop finding them)."""
    from toolkit.secrets import check_name, unset_secrets

    app_ctx = ctx.obj
    for n in names:
        check_name(n)
    project = _project(app_ctx)
    app_ctx.confirm_project(project, "removing secrets", destructive=True, changes=[f"remove {', '.join(names)}"])
    result = unset_secrets(project, names)
    emit(app_ctx.json, result, lambda c: c.print(f"removed {', '.join(names)}", highlight=False))
