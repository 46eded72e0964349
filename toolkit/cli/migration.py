"""`toolkit migrate | monitor | promote | rollback | migrations`: one data type at a time."""

from __future__ import annotations

from typing import Optional

import typer

from toolkit.cli.output import emit, styled, table

TYPE = typer.Argument(..., help="A data type of phases.yaml, e.g. quote.")


def _migration(ctx: typer.Context):
    from toolkit.migration import Migration

    app_ctx = ctx.obj
    target = app_ctx.target()
    return Migration(app_ctx.plan_on(target), target, app_ctx.actor_name(), root=app_ctx.project.root)


def _change(ctx: typer.Context, doing: str, run, line) -> None:
    """A command that changes a type's migration: where it goes, the change, its line, PROGRESS.md."""
    m = _migration(ctx)
    ctx.obj.confirm(m.target, doing, destructive=False)
    result = run(m)
    emit(ctx.obj.json, result, lambda c: c.print(line(result)))
    ctx.obj.after_change(m.target)


def migrate(
    ctx: typer.Context,
    data_type: str = TYPE,
    out_of_order: bool = typer.Option(False, "--out-of-order", help="Migrate before the types ahead of it in the recommended order."),
    force: bool = typer.Option(False, "--force", help="Migrate although phase 4 (the browser module) is not complete."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why --out-of-order or --force (recorded)."),
) -> None:
    """Register the type, enable its flag, disable its legacy cron job (snapshotted), start the bake.
    Refused while phase 4 is not complete: without the browser module feeding Presence nothing would refresh the type."""
    _change(ctx, f"migrating {data_type}",
            lambda m: m.migrate(data_type, out_of_order=out_of_order, reason=reason, force=force),
            lambda r: f"{data_type}: {', '.join(r['done']) or 'nothing to do'} -> {styled(r['state'])}. {r['message']}")


def monitor(
    ctx: typer.Context,
    data_type: str = TYPE,
    window: Optional[int] = typer.Option(None, "--window", min=1, help="Minutes to look back (default from phases.yaml)."),
) -> None:
    """Judge the bake: queue depth, success rate, freshness and errors; pass / fail / inconclusive."""
    result = _migration(ctx).monitor(data_type, window)
    metrics = result["metrics"]

    def render(c):
        c.print(f"{data_type}: [bold]{styled({'pass': 'pass', 'fail': 'fail'}.get(result['verdict'], result['verdict']))}[/] "
                f"over {result['window_minutes']} min")
        c.print(table(None, ["", ""], [[k.replace("_", " "), "-" if v is None else (f"{v:.1%}" if isinstance(v, float) else v)]
                                       for k, v in metrics.items()]))
        for criterion in result["criteria"]:
            c.print(f"  {styled(criterion['result'])} {criterion['criterion'].replace('_', ' ')}: {criterion['evidence']}",
                    highlight=False)
    emit(ctx.obj.json, result, render)
    if result["verdict"] != "pass":
        raise typer.Exit(1)


def promote(
    ctx: typer.Context,
    data_type: str = TYPE,
    force: bool = typer.Option(False, "--force", help="Promote before the bake time, or on a failing verdict."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why --force (recorded)."),
) -> None:
    """Mark a baked type migrated (needs the bake time and a passing monitor verdict)."""
    _change(ctx, f"promoting {data_type}", lambda m: m.promote(data_type, force=force, reason=reason),
            lambda r: f"{data_type}: {styled(r['state'])}")


def rollback(
    ctx: typer.Context,
    data_type: str = TYPE,
    reason: str = typer.Option(..., "--reason", help="Why (required; recorded with the flag change)."),
) -> None:
    """Restore the legacy cron job exactly as it was and disable the type's flag."""
    def line(r: dict) -> str:
        job = r.get("legacy_job")
        text = f"{data_type}: {styled(r['state'])}" + (f"; legacy job {job['how']} (id {job['jobid']})" if job else "")
        # What only a superuser could have set back (a re-created job's node) is named, not hidden.
        if job and job.get("differs"):
            text += f"; it differs from the snapshot in {', '.join(job['differs'])}"
        return text
    _change(ctx, f"rolling back {data_type}", lambda m: m.rollback(data_type, reason=reason), line)


def migrations(ctx: typer.Context) -> None:
    """Every data type's migration state."""
    rows = _migration(ctx).status()
    emit(ctx.obj.json, rows, lambda c: c.print(table(None, ["data type", "state", "since"], [
        [r["data_type"], r["state"], r["updated_at"].strftime("%Y-%m-%d %H:%M") if r.get("updated_at") else "-"]
        for r in rows])))


COMMANDS = {"migrate": migrate, "monitor": monitor, "promote": promote, "rollback": rollback, "migrations": migrations}
