"""`toolkit flags ...`: list, enable, disable, history."""

from __future__ import annotations

from typing import Optional

import typer

from toolkit.cli.output import emit, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Feature flags, every change audited.")

REASON = typer.Option(..., "--reason", help="Why (required; kept in the audit trail).")


def _flags(ctx: typer.Context):
    from toolkit.flags import Flags

    return Flags(ctx.obj.target())


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every flag and whether it is on."""
    flags = _flags(ctx).list()
    emit(ctx.obj.json, flags, lambda c: c.print(table(None, ["flag", "enabled", "updated", "by"], [
        [f["flag_name"], "on" if f["enabled"] else "off",
         f["updated_at"].strftime("%Y-%m-%d %H:%M") if f["updated_at"] else "-", f["updated_by"] or "-"]
        for f in flags])))


def _switch(ctx: typer.Context, flag: str, enabled: bool, reason: str) -> None:
    from toolkit.cli.output import err_console

    app_ctx = ctx.obj
    flags = _flags(ctx)
    stranded = [] if enabled else flags.left_without_refresh(flag, app_ctx.load_plan().plan)
    if stranded:
        err_console().print(
            f"[yellow]warning:[/] with {flag} off nothing refreshes {', '.join(stranded)}: their legacy cron "
            "jobs are paused by the migration, so their data goes stale. To go back to the old jobs, roll the "
            "types back instead (`toolkit rollback TYPE --reason ...`).", highlight=False, soft_wrap=True)
    app_ctx.confirm(flags.target, f"{'enabling' if enabled else 'disabling'} {flag}", destructive=bool(stranded))
    result = {**flags.set(flag, enabled, app_ctx.actor_name(), reason), "stops_refreshing": stranded}
    word = "on" if enabled else "off"
    emit(app_ctx.json, result, lambda c: c.print(
        f"{flag}: {word}" + ("" if result["changed"] else " already (nothing changed)")))


@app.command()
def enable(ctx: typer.Context, flag: str = typer.Argument(..., help="Flag name."), reason: str = REASON) -> None:
    """Turn a flag on (one audit row: old, new, actor, reason, time)."""
    _switch(ctx, flag, True, reason)


@app.command()
def disable(ctx: typer.Context, flag: str = typer.Argument(..., help="Flag name."), reason: str = REASON) -> None:
    """Turn a flag off (one audit row)."""
    _switch(ctx, flag, False, reason)


@app.command()
def history(
    ctx: typer.Context,
    flag: Optional[str] = typer.Argument(None, help="Only this flag."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many changes, newest first."),
) -> None:
    """The audit trail of flag changes, newest first."""
    rows = _flags(ctx).history(flag, limit)
    emit(ctx.obj.json, rows, lambda c: c.print(table(None, ["when", "flag", "change", "actor", "reason"], [
        [r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["flag_name"],
         f"{_word(r['old_enabled'])} -> {_word(r['new_enabled'])}", r["actor"], r["reason"] or ""] for r in rows])))


def _word(value) -> str:
    return "-" if value is None else ("on" if value else "off")
