"""`toolkit checklist ...`: list the checklists, and run one (interactively or not)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from toolkit.cli.output import emit, err_console, out_console, styled, table

if TYPE_CHECKING:
    from rich.console import Console

    from toolkit.checklists import Item

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="Checklists: automated checks and manual confirmations, every answer recorded.")

STOP = "q"


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Each checklist: its items (automated / manual), whether it is per type, what it ticks, its last result."""
    from toolkit.checklists import describe, load_all, results_on
    from toolkit.errors import ToolkitError

    app_ctx = ctx.obj
    lists = load_all(app_ctx.project.root, app_ctx.load_plan().plan)
    try:
        results = results_on(app_ctx.target())
    except ToolkitError as exc:  # the files alone are still worth listing
        results = None
        if not app_ctx.json:
            err_console().print(f"last results unavailable: {exc.message}", highlight=False)
    payload = [describe(c, results) for c in lists]
    columns = ["checklist", "title", "items", "per type", "ticks", "last result"]
    emit(app_ctx.json, payload, lambda c: c.print(table(None, columns, [
        [d["name"], d["title"], f"{d['automated']} automated, {d['manual']} manual", "yes" if d["per_type"] else "",
         f"phase {d['ticks']['phase']}: {d['ticks']['step']}" if d["ticks"] else "", _last(d)] for d in payload])))


def _last(d: dict) -> str:
    if d["per_type"]:
        return ", ".join(f"{t} {styled(r)}" for t, r in sorted(d["last_results_by_type"].items())) or "-"
    return styled(d["last_result"]) if d["last_result"] else "-"


@app.command()
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A checklist of checklists/, e.g. phase1-manual."),
    data_type: Optional[str] = typer.Option(None, "--type", help="The data type, for a per-type checklist."),
    resume: bool = typer.Option(False, "--resume", help="Continue the unfinished run of this checklist (and type)."),
    restart: bool = typer.Option(False, "--restart", help="Close the unfinished run as incomplete and start over."),
    non_interactive: bool = typer.Option(False, "--non-interactive",
                                         help="Run the automated items only; manual items stay pending (exit 1)."),
) -> None:
    """Run the automated items and ask the manual ones (pass / fail / skip, q to stop and keep the run)."""
    from toolkit.checklists import Runner, check_params, load

    app_ctx = ctx.obj
    loaded = app_ctx.load_plan()
    check_params(loaded.plan, load(app_ctx.project.root, name, loaded.plan), data_type)  # refused before connecting
    target = app_ctx.target()
    plan = app_ctx.plan_on(target).plan  # the checks name the objects as they are on the target
    from toolkit.checks import CheckContext

    checklist = load(app_ctx.project.root, name, plan)
    context = CheckContext(app_ctx.plan_on(target), target, app_ctx.project.root, app_ctx.actor_name())
    runner = Runner(plan, target, app_ctx.actor_name(), context)
    app_ctx.confirm(runner.target, f"running checklist {name}", destructive=False)
    result = runner.run(checklist, data_type, resume=resume, restart=restart,
                        ask=None if non_interactive else _asker(err_console()),
                        report=None if app_ctx.json else _printer(out_console()))
    if resume and not result["resumed"] and not app_ctx.json:
        err_console().print(f"there was no unfinished run of {name} to resume: run {result['run_id']} is a new one")
    emit(app_ctx.json, result, lambda c: c.print(_verdict(result, name, data_type), highlight=False))
    app_ctx.after_change(runner.target)  # a finished run ticks its ✅/❌ line
    if result["result"] != "pass":
        raise typer.Exit(1)


@app.command()
def show(ctx: typer.Context,
         run_id: Optional[int] = typer.Argument(None, metavar="[RUN]", help="A run's id (default: the newest run).")) -> None:
    """A recorded run: each item with its answer, note and evidence, who answered and when."""
    from rich.markup import escape

    from toolkit.checklists import show_run

    app_ctx = ctx.obj
    run = show_run(app_ctx.project.root, app_ctx.load_plan().plan, app_ctx.target(), run_id)

    def render(c):
        what = f"{run['checklist']}" + (f" --type {run['data_type']}" if run["data_type"] else "")
        state = styled(run["result"]) if run["result"] else "[yellow]unfinished[/]"
        c.print(f"run {run['run_id']} of {escape(what)}: {state}  ({escape(run['title'])})", highlight=False)
        finished = f", finished {run['finished_at']:%Y-%m-%d %H:%M:%S %Z}" if run["finished_at"] else ""
        c.print(f"started by {escape(run['started_by'])} at {run['started_at']:%Y-%m-%d %H:%M:%S %Z}{finished}",
                highlight=False)
        for item in run["items"]:
            c.print(f"{styled(item['result'] or 'pending')} {item['id']}: {escape(item['text'])}", highlight=False)
            for label in ("note", "evidence"):
                if item[label]:
                    c.print(f"    [dim]{label}:[/] {escape(item[label])}", highlight=False)
            if item["answered_by"]:
                c.print(f"    [dim]answered by {escape(item['answered_by'])} at "
                        f"{item['answered_at']:%Y-%m-%d %H:%M:%S %Z}[/]", highlight=False)
    emit(app_ctx.json, run, render)


def _asker(console: "Console"):
    """Manual items are asked on stderr, so that stdout keeps only the run's output."""
    from rich.markup import escape
    from rich.prompt import Prompt

    from toolkit.checklists import ANSWERS

    def ask(item: "Item"):
        console.print(f"[bold cyan]manual[/] {item.id}: {escape(item.text)}")
        try:
            answer = Prompt.ask("  result (q: stop here, resume later)", choices=[*ANSWERS, STOP], console=console)
            if answer == STOP:
                return None
            return answer, Prompt.ask("  note (optional)", default="", show_default=False, console=console).strip()
        except EOFError:  # input ran out: stop, keeping what was answered
            return None
    return ask


def _printer(console: "Console"):
    from rich.markup import escape

    def report(entry: dict) -> None:
        state = styled(entry["result"] or "pending")
        earlier = " [dim](answered earlier)[/]" if entry["earlier"] else ""
        console.print(f"{state} {entry['id']}: {escape(entry['text'])}{earlier}", highlight=False)
        for label in () if entry["earlier"] else ("evidence", "note"):  # a resumed run: just the recap
            if entry[label]:
                console.print(f"    [dim]{label}:[/] {escape(entry[label])}", highlight=False)
    return report


def _verdict(result: dict, name: str, data_type: str | None) -> str:
    again = f"toolkit checklist run {name}" + (f" --type {data_type}" if data_type else "")
    pending = sum(i["result"] is None for i in result["items"])
    if result["stopped"]:
        return f"run {result['run_id']} stopped with {pending} item(s) unanswered; continue with `{again} --resume`"
    verdict = f"run {result['run_id']} of {name}{f' ({data_type})' if data_type else ''}: {styled(result['result'])}"
    if result["result"] == "incomplete":
        counts = {what: sum(i["result"] == what for i in result["items"]) for what in ("skip", "inconclusive")}
        why = [f"{n} {'skipped' if what == 'skip' else 'inconclusive'}" for what, n in counts.items() if n]
        if pending:
            why.append(f"{pending} manual item(s) pending: answer them with `{again}`")
        verdict += f" ({'; '.join(why)})" if why else ""
    return verdict
