"""`toolkit local ...`: the embedded local PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from typing import Optional

import typer

from toolkit.cli.output import emit, err_console, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The embedded local PostgreSQL (127.0.0.1 only) with a Supabase compatibility layer.")

PORT_HELP = "Port on 127.0.0.1 (default 54330, or TOOLKIT_LOCAL_PORT). Only used when the cluster is created."


def _render_status(info: dict):
    def render(console):
        rows = [[k.replace("_", " "), _plain(v)] for k, v in info.items() if k != "exists"]
        console.print(table("local cluster", ["", ""], rows))
    return render


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} ({v})" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


@app.command()
def up(
    ctx: typer.Context,
    port: Optional[int] = typer.Option(None, "--port", help=PORT_HELP),
    example: bool = typer.Option(True, "--example/--no-example", help="Load the legacy example app (data tables and old cron jobs)."),
) -> None:
    """Create and start the local cluster; a running cluster is left as it is."""
    app_ctx = ctx.obj
    cluster = app_ctx.cluster(port)
    examples = app_ctx.project.examples / "legacy_app" if example else None
    with err_console().status("starting the local cluster", spinner="dots") if not app_ctx.json else nullcontext():
        info = cluster.up(bootstrap_example=examples)
    if not app_ctx.json:
        err_console().print(f"local cluster {info['action']} in {info['seconds']} s", highlight=False)
        _warn_missing(info)
    emit(app_ctx.json, info, _render_status(info))


def _warn_missing(info: dict) -> None:
    missing = info.get("missing_extensions") or {}
    if missing:
        packages = " ".join(sorted(set(missing.values())))
        err_console().print(
            f"[yellow]warning:[/] {', '.join(sorted(missing))} not installed, so not loaded "
            f"(the legacy cron jobs need pg_cron); install with: apt-get install {packages}, "
            "then `toolkit local reset`", highlight=False)


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local cluster (its data is kept)."""
    info = ctx.obj.cluster().down()
    emit(ctx.obj.json, info, lambda c: c.print(f"local cluster: {info['action']}"))


@app.command()
def status(ctx: typer.Context) -> None:
    """Is the local cluster running, where are its files, how to connect."""
    info = ctx.obj.cluster().status()
    emit(ctx.obj.json, info, _render_status(info))
    if not info["running"]:
        raise typer.Exit(1)


@app.command()
def reset(
    ctx: typer.Context,
    port: Optional[int] = typer.Option(None, "--port", help=PORT_HELP),
    example: bool = typer.Option(True, "--example/--no-example", help="Load the legacy example app."),
) -> None:
    """Destroy the local cluster and its data, then create it again."""
    app_ctx = ctx.obj
    cluster = app_ctx.cluster(port)
    if not app_ctx.yes:
        if not os.isatty(0):
            from toolkit.errors import ToolkitError

            raise ToolkitError("reset destroys the local cluster's data and needs confirmation",
                               hint="run `toolkit local reset --yes`")
        if not typer.confirm("Destroy the local cluster and all its data?"):
            raise typer.Exit(1)
    cluster.destroy()
    info = cluster.up(bootstrap_example=app_ctx.project.examples / "legacy_app" if example else None)
    emit(app_ctx.json, info, _render_status(info))


@app.command()
def psql(ctx: typer.Context, args: list[str] = typer.Argument(None, help="Extra psql arguments.")) -> None:
    """Open psql on the local cluster (or on --db-url)."""
    target = ctx.obj.target()
    exe = shutil.which("psql")
    if exe is None:
        from toolkit.errors import ToolkitError

        raise ToolkitError("psql is not installed", hint="apt-get install postgresql-client-15")
    os.execv(exe, [exe, target.conninfo, *(args or [])])
