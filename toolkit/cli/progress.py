"""`toolkit progress ...`: the report, and PROGRESS.md kept in step with the database."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from toolkit.cli.output import emit, styled, table
from toolkit.errors import CheckFailed

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


@app.command()
def sync(
    ctx: typer.Context,
    file: Optional[Path] = FILE,
    check: bool = typer.Option(False, "--check", help="Change nothing; exit 1 when the document is out of date "
                                                      "or a tick contradicts the database."),
    fix: bool = typer.Option(False, "--fix", help="Set ticks that contradict the database as the database has them."),
) -> None:
    """Update only the parts of PROGRESS.md the toolkit owns, in place, atomically. A tick on a
    line the toolkit cannot check is kept; one that contradicts it is kept and reported."""
    from rich.markup import escape

    from toolkit.cli.output import err_console
    from toolkit.progress.sync import document_path, load_document
    from toolkit.progress.sync import sync as do_sync

    app_ctx = ctx.obj
    path = document_path(app_ctx.project.root, file)
    document = load_document(path)  # a file that is no document is refused before anything else
    result = do_sync(document, app_ctx.load_plan(), app_ctx.target(), app_ctx.project.root, check=check, fix=fix)
    for warning in result["warnings"]:
        err_console().print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if result["contradictions"] and not check:
        err_console().print("kept as written; `toolkit progress sync --fix` sets them as the database has them",
                            highlight=False)
    if check:
        _check_outcome(path, result)
    word = "up to date" if not result["changed"] else "updated"
    emit(app_ctx.json, result, lambda c: c.print(f"{path}: {word}"))


def _check_outcome(path: Path, result: dict) -> None:
    """`sync --check`: exit 1 naming what a sync (or `docs render`) would change."""
    problems = [f"{path} is out of date with the database"] if result["out_of_date"] else []
    if result["contradictions"]:
        problems.append(f"{path} is contradicted by the database")
    problems += result["stale_documents"]
    if problems:
        hints = (["run `toolkit progress sync`"] if result["out_of_date"] else []) + \
                (["`toolkit progress sync --fix` sets the contradicted ticks"] if result["contradictions"] else []) + \
                (["run `toolkit docs render`"] if result["stale_documents"] else [])
        raise CheckFailed("; ".join(problems), hint="; ".join(hints))


@app.command()
def init(
    ctx: typer.Context,
    file: Optional[Path] = FILE,
    force: bool = typer.Option(False, "--force", help="Replace an existing document."),
) -> None:
    """Write a fresh PROGRESS.md from phases.yaml, showing the database's state."""
    from toolkit.progress.sync import document_path
    from toolkit.progress.sync import init as do_init

    app_ctx = ctx.obj
    path = document_path(app_ctx.project.root, file)
    result = do_init(path, app_ctx.load_plan(), app_ctx.target(), app_ctx.project.root, force)
    emit(app_ctx.json, result, lambda c: c.print(f"{path}: written"))
