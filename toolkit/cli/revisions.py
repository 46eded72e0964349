"""`toolkit revisions ...`: the steps' revision histories and the lock file (no database)."""

from __future__ import annotations

import typer

from toolkit.cli.output import emit, err_console, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Revisions of the SQL steps: list, check the released ones, lock new ones, start a new one.")


@app.command("list")
def list_revisions(ctx: typer.Context) -> None:
    """Every SQL step's revisions, how a live database reaches each, and whether it is released as is."""
    from toolkit import revisions

    rows = revisions.listing(ctx.obj.load_plan())
    emit(ctx.obj.json, rows, lambda c: c.print(table(None, ["phase", "step", "revision", "reached by", "version", "state", "why"], [
        [r["phase"], r["step"], r["revision"], r["upgrade"], r["version"] or "-", r["state"], r["why"]] for r in rows])))


@app.command()
def check(ctx: typer.Context) -> None:
    """Exit 1 when a released revision (or toolkit schema migration) changed, or one is not released yet."""
    from toolkit import revisions
    from toolkit.errors import CheckFailed

    problems = revisions.check(ctx.obj.load_plan())
    emit(ctx.obj.json, problems, lambda c: [c.print(p, highlight=False, soft_wrap=True) for p in problems])
    if problems:
        raise CheckFailed(f"{len(problems)} problem(s) with the released revisions")
    if not ctx.obj.json:
        err_console().print("every revision is released as locked")


@app.command()
def lock(ctx: typer.Context) -> None:
    """Release the revisions and toolkit schema migrations not in the lock file yet (never changes a line)."""
    from toolkit import revisions

    loaded = ctx.obj.load_plan()
    added = revisions.lock(loaded)
    payload = [{"version": r.version, "step": r.step, "revision": r.revision, "toolkit": r.toolkit} for r in added]
    emit(ctx.obj.json, payload, lambda c: c.print(
        "\n".join(f"released {r['toolkit'] or r['step'] + ' revision ' + str(r['revision'])} as version {r['version']}"
                  for r in payload) or "nothing new to release", highlight=False))


@app.command()
def new(
    ctx: typer.Context,
    phase: int = typer.Argument(..., help="Phase number."),
    step: str = typer.Argument(..., help="The step's id."),
    upgrade: str = typer.Option(..., "--upgrade", help="How a live database gets it: redeploy, script or none."),
    why: str = typer.Option(..., "--why", help="What the revision changes (kept in phases.yaml)."),
    from_git: str = typer.Option(None, "--from-git", help="Freeze the scripts as they were at this git revision "
                                                           "(when they were already edited in place)."),
) -> None:
    """Start the next revision of a step: freeze the current one into r<k>/, add the revision to
    phases.yaml, and for --upgrade script start upgrade/<k>-<k+1>.sql. Then edit the step's
    scripts and run `toolkit revisions lock` (templates/README.md)."""
    from toolkit import revisions

    result = revisions.new_revision(ctx.obj.load_plan(), phase, step, upgrade, why, from_git)

    def render(c):
        c.print(f"revision {result['revision'] - 1} of {step} frozen in {result['frozen']}", highlight=False)
        c.print(f"revision {result['revision']} added to the plan (upgrade: {upgrade})", highlight=False)
        if upgrade == "script":
            c.print(f"write the upgrade of a live database in {result['upgrade_script']}", highlight=False)
        elif upgrade == "redeploy":
            c.print(f"what the deploy cannot replace (an old signature, a type) is dropped first by "
                    f"{result['upgrade_script']} (optional)", highlight=False)
        c.print(f"optional: {result['down_script']} to go back one revision", highlight=False)
        c.print("next: edit the step's scripts, then `toolkit revisions lock` (templates/README.md)", highlight=False)
    emit(ctx.obj.json, result, render)
