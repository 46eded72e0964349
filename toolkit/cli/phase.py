"""`toolkit phase ...` and `toolkit status`: the plan and the apply engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from toolkit.cli.output import emit, err_console, styled, table
from toolkit.errors import CheckFailed

if TYPE_CHECKING:
    from toolkit.cli.context import AppContext
    from toolkit.engine import Engine

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The rollout's phases: list, show, render, plan, apply, upgrade, verify, revert.")


def _engine(app_ctx: "AppContext") -> "Engine":
    from toolkit.engine import Engine

    loaded = app_ctx.load_plan()
    return Engine(loaded, app_ctx.target(), app_ctx.actor_name(), workspace=app_ctx.project.root)


@app.command("list")
def list_phases(ctx: typer.Context) -> None:
    """The phases of the plan with their steps by kind (reads phases.yaml only)."""
    plan = ctx.obj.load_plan().plan
    payload = [{
        "phase": p.id, "title": p.title, "requires": p.requires, "target": p.target,
        "steps": len(p.steps), "sql": len(plan.deployable(p)), "not_available": len(p.planned_steps),
        "manual": sum(s.kind == "manual" for s in p.steps),
    } for p in plan.phases]
    emit(ctx.obj.json, payload, lambda c: c.print(table(None, ["phase", "title", "requires", "steps", "sql", "manual", "not yet available"], [
        [p["phase"], p["title"], ",".join(map(str, p["requires"])) or "-", p["steps"], p["sql"], p["manual"], p["not_available"]]
        for p in payload])))


@app.command()
def show(ctx: typer.Context, phase: int = typer.Argument(..., help="Phase number.")) -> None:
    """One phase: its steps, the task line each ticks, and what is not built yet."""
    plan = ctx.obj.load_plan().plan
    p = plan.phase(phase)
    payload = {"phase": p.id, "title": p.title, "requires": p.requires, "target": p.target, "steps": [{
        "step": s.id, "kind": s.kind, "task": s.task, "subtasks": s.subtasks, "template": s.sql,
        "available": s.available, "planned": s.planned, "transaction": s.transaction,
        "revision": s.revision if s.kind == "sql" else None,
    } for s in p.steps]}

    def render(c):
        c.print(f"[bold]Phase {p.id}: {p.title}[/]  requires: {','.join(map(str, p.requires)) or '-'}")
        rows = []
        for s in payload["steps"]:
            note = "" if s["available"] else styled("not yet available") + f": {s['planned']}"
            task = s["task"] or "[dim](not a PROGRESS.md line)[/]"
            rows.append([s["step"], s["kind"], task + "".join(f"\n  - {t}" for t in s["subtasks"]), note])
        c.print(table(None, ["step", "kind", "task", "note"], rows))
    emit(ctx.obj.json, payload, render)


@app.command()
def render(
    ctx: typer.Context,
    phase: int = typer.Argument(..., help="Phase number."),
    script: str = typer.Option("deploy", "--script", help="deploy, revert or verify."),
) -> None:
    """Print a phase's rendered SQL (no database needed)."""
    from toolkit.errors import ToolkitError
    from toolkit.render import Renderer

    if script not in ("deploy", "revert", "verify"):
        raise ToolkitError(f"--script must be deploy, revert or verify (got {script!r})")
    loaded = ctx.obj.load_plan()
    p = loaded.plan.phase(phase)
    rendered = Renderer(loaded).phase(p)
    payload = [{"step": r.step.id, "checksum": r.checksum, "sql": getattr(r, script)} for r in rendered]

    def show_sql(c):
        for item in payload:
            print(f"-- phase {phase} step {item['step']} ({script})\n{item['sql']}")
    emit(ctx.obj.json, payload, show_sql)


@app.command()
def plan(ctx: typer.Context, phase: int = typer.Argument(..., help="Phase number.")) -> None:
    """Compare the steps with the ledger and the database: new, applied (revision k), upgradable
    (k -> m, and what `upgrade` would run), drift; exit 1 on drift."""
    from toolkit.states import DRIFT

    states = _engine(ctx.obj).plan_phase(phase)
    payload = [s.__dict__ for s in states]
    emit(ctx.obj.json, payload, lambda c: c.print(table(f"phase {phase} plan", ["step", "kind", "state", "note"], [
        [s.step, s.kind, styled(s.state), s.note + "".join(f"\n  upgrade runs {u}" for u in s.upgrade)]
        for s in states])))
    if any(s.state == DRIFT for s in states):
        raise typer.Exit(1)


@app.command()
def apply(
    ctx: typer.Context,
    phases: str = typer.Argument(..., help="A phase number, a range like 0..1, or 'all'."),
    force: bool = typer.Option(False, "--force", help="Apply although required phases are not applied."),
    reason: str = typer.Option(None, "--reason", help="Why --force is needed (recorded in the history)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL that would run; change nothing."),
) -> None:
    """Apply phases: each in one transaction, verified before commit, recorded in the ledger."""
    from toolkit.config import parse_phase_selection

    app_ctx = ctx.obj
    engine = _engine(app_ctx)
    ids = parse_phase_selection(engine.plan, phases)
    if not dry_run:
        from toolkit.deploy import items

        functions = [engine.plan.names.slug(i.base) for i in items(engine.plan, [engine.plan.phase(p) for p in ids])]
        app_ctx.confirm(engine.target, f"applying phase {phases}", destructive=False,
                        changes=[f"SQL of phase {p}" for p in ids] +
                        ([f"Edge Functions not deployed yet, to {engine.served.describe()}: {', '.join(functions)}"]
                         if functions else []))
    reports = engine.apply(ids, force=force, reason=reason, dry_run=dry_run)
    payload = [r.__dict__ for r in reports]

    def render(c):
        for r in reports:
            if dry_run:
                for item in r.sql:
                    print(f"-- phase {r.phase} step {item['step']}\n{item['sql']}")
                if not r.sql:
                    err_console().print(f"phase {r.phase}: nothing to apply")
                continue
            c.print(f"phase {r.phase} ({r.title}): {styled(r.result)} in {r.seconds} s")
            for s in r.steps:
                c.print(f"  {s['step']}" + (f" ({s['function']})" if s.get("function") else "") +
                        f": {styled(s['result'])}", soft_wrap=True)
    emit(app_ctx.json, payload, render)
    if not dry_run:
        app_ctx.after_change(engine.target)
        _hint_documents(app_ctx, ids)
        _edge_outcome(app_ctx, reports)


def _edge_outcome(app_ctx, reports) -> None:
    """Warnings, then exit 2 when a function could not be deployed, 1 when one did not verify."""
    from toolkit.errors import ToolkitError

    for r in reports:
        for w in r.warnings:
            if not app_ctx.json:
                err_console().print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    failed = [f for r in reports for f in r.failed_deploys]
    if failed:
        raise ToolkitError(f"{len(failed)} function(s) could not be deployed (the SQL is applied; the record "
                           f"says what runs): {'; '.join(failed)}", hint="fix the cause, then run apply again")
    unverified = [f for r in reports for f in r.failed_verifies]
    if unverified:
        raise CheckFailed(f"{len(unverified)} function(s) deployed but did not verify: {'; '.join(unverified)}")


def _hint_documents(app_ctx, ids: list[int]) -> None:
    """Phase 0's documents are rendered by their own command, into the workspace."""
    from toolkit.docs import unrendered

    missing = unrendered(app_ctx.load_plan(), app_ctx.project.root) if 0 in ids else []
    if missing and not app_ctx.json:
        err_console().print(f"phase 0's documents are not rendered yet ({', '.join(missing)}): "
                            "toolkit docs render", highlight=False, soft_wrap=True)


@app.command()
def upgrade(
    ctx: typer.Context,
    phases: str = typer.Argument(..., help="A phase number, a range like 0..3, or 'all'."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL that would run; change nothing."),
) -> None:
    """Bring each applied step to its newest revision: per phase one transaction, verified before
    commit, every row kept. Running it again changes nothing."""
    from toolkit.config import parse_phase_selection

    app_ctx = ctx.obj
    engine = _engine(app_ctx)
    ids = parse_phase_selection(engine.plan, phases)
    if not dry_run:
        app_ctx.confirm(engine.target, f"upgrading phase {phases}", destructive=False)
    reports = engine.upgrade(ids, dry_run=dry_run)
    payload = [r.__dict__ for r in reports]

    def render(c):
        for r in reports:
            if dry_run:
                for item in r.sql:
                    print(f"-- phase {r.phase} step {item['step']}: revision {item['from']} -> {item['to']}\n{item['sql']}")
                if not r.sql:
                    err_console().print(f"phase {r.phase}: nothing to upgrade ({r.result})")
                continue
            c.print(f"phase {r.phase} ({r.title}): {styled(r.result)} in {r.seconds} s")
            for s in r.steps:
                extra = f" (revision {s['from']} -> {s['to']})" if "from" in s else ""
                c.print(f"  {s['step']}: {s['result']}{extra}")
    emit(app_ctx.json, payload, render)
    if not dry_run:
        app_ctx.after_change(engine.target)
    if any(r.result == "drift" for r in reports):
        raise typer.Exit(1)


@app.command()
def verify(ctx: typer.Context,
           phases: str = typer.Argument(..., help="A phase number, a range like 0..3, or 'all'.")) -> None:
    """Run each applied step's verify script; exit 1 when any fails."""
    from toolkit.config import parse_phase_selection

    engine = _engine(ctx.obj)
    ids = parse_phase_selection(engine.plan, phases)
    results = [r for p in ids for r in engine.verify(p)]

    def render(c):
        for p in ids:
            c.print(table(f"phase {p} verify", ["step", "result", "message"], [
                [r["step"], styled(r["result"]), r["message"]] for r in results if r["phase"] == p]))
    emit(ctx.obj.json, results, render)
    ctx.obj.after_change(ctx.obj.target())
    failed = [f"{r['phase']}/{r['step']}" if len(ids) > 1 else r["step"] for r in results if r["result"] == "fail"]
    if failed:
        raise CheckFailed(f"phase {phases}: {len(failed)} step(s) failed verify: {', '.join(failed)}")


@app.command()
def revert(
    ctx: typer.Context,
    phase: int = typer.Argument(..., help="Phase number (the newest applied phase)."),
    drop_data: bool = typer.Option(False, "--drop-data", help="Drop tables holding rows instead of archiving them."),
    step: str = typer.Option(None, "--step", help="Take only this step back one revision, by its down script."),
) -> None:
    """Revert the newest applied phase, steps in reverse order; tables holding data are archived.
    With --step: take one upgraded step back one revision instead."""
    from toolkit.deploy import items

    app_ctx = ctx.obj
    engine = _engine(app_ctx)
    if step is not None:
        if drop_data:
            from toolkit.errors import ToolkitError

            raise ToolkitError("--drop-data applies to reverting a phase, not to --step")
        app_ctx.confirm(engine.target, f"taking phase {phase} step {step} back one revision", destructive=True)
        report = engine.downgrade(phase, step)
    else:
        # Asked before anything connects: the phase's functions, as the plan names them.
        functions = [engine.plan.names.slug(i.base) for i in items(engine.plan, [engine.plan.phase(phase)])]
        remote_functions = bool(functions) and engine.target.functions is not None
        app_ctx.confirm(engine.target, f"reverting phase {phase}" + (" and dropping its data" if drop_data else ""),
                        destructive=drop_data or remote_functions,
                        changes=[f"revert the SQL of phase {phase}"] +
                        ([f"delete Edge Functions from {engine.served.describe()} (those deployed of: {', '.join(functions)})"]
                         if remote_functions else []))
        report = engine.revert(phase, drop_data=drop_data)
    emit(app_ctx.json, report.__dict__, lambda c: c.print(
        f"phase {report.phase} ({report.title}): {styled(report.result)} in {report.seconds} s\n"
        + "\n".join(f"  {s['step']}: {s['result']}" for s in report.steps)))
    app_ctx.after_change(engine.target)


def status(ctx: typer.Context) -> None:
    """Where the toolkit points and how far each phase is applied."""
    info = _engine(ctx.obj).status()
    emit(ctx.obj.json, info, _render_status(info))


def _render_status(info: dict):
    def render(c):
        c.print(f"target: [bold]{info['target']}[/] (PostgreSQL {info['server_version']}; "
                f"pg_cron {'yes' if info['pg_cron'] else 'no'}, pg_net {'yes' if info['pg_net'] else 'no'})")
        c.print(table(None, ["phase", "title", "state", "applied", "upgradable", "drift", "verified", "not yet available",
                             "manual"], [
            [p["phase"], p["title"], styled(p["state"]), f"{p['applied']}/{p['deployable']}", p["upgradable"] or "",
             p["drift"] or "",
             {True: "yes", False: "NO", None: ""}[p["verified"]], p["not_available"] or "", p["manual"] or ""]
            for p in info["phases"]]))
    return render


def demo(ctx: typer.Context) -> None:
    """The main job on the embedded local stack: phases 0-3, sandbox, served functions, a backlog drained."""
    from toolkit.dev import demo as demo_job

    app_ctx = ctx.obj
    if app_ctx.db_url:
        from toolkit.errors import ToolkitError

        raise ToolkitError("demo runs on the embedded local stack only; drop --db-url")
    say = (lambda text: None) if app_ctx.json else (lambda text: err_console().print(text, highlight=False))
    result = demo_job.run(app_ctx.project, app_ctx.cluster(), app_ctx.load_plan(), app_ctx.actor_name(), say)
    info = _engine(app_ctx).status()

    def render(c):
        c.print(f"{result['queued']} jobs queued, {result['completed']} completed in {result['ticks']} tick(s), "
                f"{result['due']} still due; the provider served {result['provider_calls']} calls, "
                f"{result['provider_bytes']:,} bytes", highlight=False)
        _render_status(info)(c)
    emit(app_ctx.json, {**result, "status": info}, render)
    if result["due"]:
        raise typer.Exit(1)
