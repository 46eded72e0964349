"""`toolkit export ...`: the plan in another tool's terms."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.output import emit

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Export the plan for another tool.")


@app.command()
def supabase(
    ctx: typer.Context,
    folder: Path = typer.Argument(Path("."), help="The Supabase project folder (the one holding or to hold supabase/)."),
    scheduler_mode: str = typer.Option(None, "--scheduler-mode",
                                       help="postgres or external (default: the plan's hosted_scheduler_mode)."),
    phases: str = typer.Option(None, "--phases",
                               help="The phases whose steps to write, e.g. 0..3 or all (default: all but the final "
                                    "migration, phase 6)."),
) -> None:
    """Write supabase/migrations (one file per released revision, in release order; existing files
    are never rewritten), supabase/functions with _shared/, and the functions' verify_jwt in
    supabase/config.toml."""
    from toolkit import export
    from toolkit.errors import ToolkitError

    if scheduler_mode not in (None, "postgres", "external"):
        raise ToolkitError(f"--scheduler-mode must be postgres or external (got {scheduler_mode!r})")
    loaded = ctx.obj.load_plan()
    chosen = None
    if phases is not None:
        from toolkit.config import parse_phase_selection

        chosen = parse_phase_selection(loaded.plan, phases)
    result = export.supabase(loaded, folder, scheduler_mode, chosen)

    def render(c):
        c.print(f"{result['folder']}: {len(result['added'])} migration(s) added, "
                f"{len(result['migrations']) - len(result['added'])} already there; "
                f"{len(result['functions'])} function(s) (scheduler mode {result['scheduler_mode']})", highlight=False)
        for name in result["added"]:
            c.print(f"  + migrations/{name}", highlight=False)
        for name in result["skipped"]:
            c.print(f"  skipped {name}", highlight=False)
    emit(ctx.obj.json, result, render)
    if result["kept_different"] or result["unknown"]:
        from toolkit.errors import CheckFailed

        parts = []
        if result["kept_different"]:
            parts.append(f"kept as exported, though this plan would write them differently: "
                         f"{', '.join(result['kept_different'])}")
        if result["unknown"]:
            parts.append(f"not written by this plan: {', '.join(result['unknown'])}")
        raise CheckFailed("supabase/migrations is history and was not rewritten; " + "; ".join(parts),
                          hint="the plan's values or scheduler mode changed since the first export (a database "
                               "gets a change only as a new revision); export into a new folder to see the "
                               "plan's history as it is now")
