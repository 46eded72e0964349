"""`toolkit progress ...`: the report, and PROGRESS.md kept in step with the database."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.cli.output import emit, styled, table

app = typer.Typer(invoke_without_command=True, rich_markup_mode=None,
                  help="The rollout's progress from the database, and PROGRESS.md kept true.")

FILE = typer.Option(None, "--file", help="The document (default: PROGRESS.md of the project, or TOOLKIT_PROGRESS).")
BAR = 20


def _bar(percent: int) -> str:
    filled = round(percent * BAR / 100)
    return "█" * filled + "░" * (BAR - filled)


@app.callback()
def progress(ctx: typer.Context) -> None:
    """Print the report: a bar per phase, the overall percentage, the migration table, blockers."""
    if ctx.invoked_subcommand is not None:
        return
    from toolkit.progress.sync import report

    app_ctx = ctx.obj
    info = report(app_ctx.load_plan(), app_ctx.target(), app_ctx.project.root)

    def render(c):
        c.print(f"[bold]{info['current_phase']}[/]   overall {info['overall_percent']}% "
                f"({info['phases_complete']}/{len(info['phases'])} phases complete)")
        c.print(table(None, ["phase", "progress", "", "status"], [
            [f"{p['phase']}: {p['title']}", _bar(p["percent"]), f"{p['percent']}%", styled(p["status"])]
            for p in info["phases"]]))
        c.print(table("migration", ["data type", "status", "date", "notes"], [
            [m["data_type"], m["status"], m["date"] or "-", m["notes"] or "-"] for m in info["migration"]]))
        c.print("blockers: " + ("; ".join(info["blockers"]) if info["blockers"] else "none"))
    emit(app_ctx.json, info, render)


def _document_and_state(app_ctx, file: Optional[Path]):
    """The document's path and what it should say, from the database."""
    from toolkit.progress.sync import current, document_path

    state, facts = current(app_ctx.load_plan(), app_ctx.target(), app_ctx.project.root)
    return document_path(app_ctx.project.root, file), state, facts


@app.command()
def sync(
    ctx: typer.Context,
    file: Optional[Path] = FILE,
    check: bool = typer.Option(False, "--check", help="Change nothing; exit 1 when the document is out of date."),
) -> None:
    """Update only the parts of PROGRESS.md the toolkit owns, in place, atomically."""
    from toolkit.progress.sync import stale_documents, sync as do_sync

    app_ctx = ctx.obj
    path, state, facts = _document_and_state(app_ctx, file)
    result = do_sync(path, state, check=check, stale=stale_documents(facts))
    word = "up to date" if not result["changed"] else "updated"
    emit(app_ctx.json, result, lambda c: c.print(f"{path}: {word}"))


@app.command()
def init(
    ctx: typer.Context,
    file: Optional[Path] = FILE,
    force: bool = typer.Option(False, "--force", help="Replace an existing document."),
) -> None:
    """Write a fresh PROGRESS.md from phases.yaml, showing the database's state."""
    from toolkit.progress.sync import init as do_init

    app_ctx = ctx.obj
    path, state, _ = _document_and_state(app_ctx, file)
    result = do_init(path, app_ctx.load_plan(), state, force)
    emit(app_ctx.json, result, lambda c: c.print(f"{path}: written"))
