"""`toolkit queue ...`: the Phase 2 queue's metrics and its day-to-day operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from toolkit.cli.output import emit, err_console, table

if TYPE_CHECKING:
    from toolkit.cli.context import AppContext
    from toolkit.queue import Queue

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The refresh queue: status, enqueue, retry-failed, purge.")


def _queue(app_ctx: "AppContext") -> "Queue":
    from toolkit.queue import Queue

    target = app_ctx.target()
    return Queue(app_ctx.plan_on(target).plan, target)


@app.command()
def status(ctx: typer.Context) -> None:
    """Depth by status and type, processing rate, error rate, oldest pending job, budgets, breaker."""
    info = _queue(ctx.obj).status()

    def render(c):
        m, q, rt = info["metrics"], info["quota"], info["runtime"]
        age = m["oldest_pending_age"]
        breaker = rt["breaker"] or {}
        c.print(table(f"queue on {info['target']}", ["", ""], [
            ["pending", m["pending"]], ["processing", m["processing"]], ["stuck", m["stuck"]],
            ["jobs/min (15 min)", f"{m['jobs_per_minute']:.1f}"], ["failed (1 h)", m["failed_last_hour"]],
            ["error rate (1 h)", f"{m['error_rate']:.1%}"], ["oldest pending", "-" if age is None else f"{age:.0f} s"],
            ["calls", f"{q['calls_used']}/{q['calls_limit']} per {q['call_window_seconds']} s"],
            ["bytes", f"{q['bytes_used']:,}/{q['bytes_limit']:,} per {q['byte_window_days']} d"],
            ["refused acks (1 h)", rt["refused_acks_last_hour"]],
            ["breaker", m["breaker_state"] + (f" ({breaker['opened_reason']})" if breaker.get("opened_reason") else "")],
            ["last processor run", m["last_processor_run"] or "-"],
        ]))
        learned = [t for t in rt["types"] or [] if t["learned_bytes"] is not None]
        if learned:
            c.print(table("size estimates learned from responses (configured in phases.yaml)",
                          ["data type", "learned bytes", "configured bytes", "learned at"],
                          [[t["data_type"], f"{t['learned_bytes']:,}", f"{t['configured_bytes']:,}", t["learned_at"]]
                           for t in learned]))
        if info["depth"]:
            c.print(table("depth", ["status", "data type", "jobs", "due"],
                          [[d["status"], d["data_type"], d["jobs"], d["due"]] for d in info["depth"]]))
    emit(ctx.obj.json, info, render)


@app.command()
def enqueue(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Ticker symbol, e.g. AAPL."),
    data_type: str = typer.Argument(..., help="A data type of phases.yaml, e.g. quote."),
    priority: int = typer.Option(0, "--priority", help="Higher runs first; raises a pending job's priority."),
) -> None:
    """Queue a refresh unless one is already live for the symbol and type."""
    result = _queue(ctx.obj).enqueue(symbol, data_type, priority)
    emit(ctx.obj.json, result, lambda c: c.print(
        f"{result['symbol']} {result['data_type']}: {result['outcome']} (job {result['job_id']})"))


@app.command("retry-failed")
def retry_failed(
    ctx: typer.Context,
    data_type: Optional[str] = typer.Option(None, "--type", help="Only this data type."),
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many jobs."),
) -> None:
    """Move failed jobs back to pending with fresh attempts."""
    result = _queue(ctx.obj).retry_failed(data_type, limit)
    emit(ctx.obj.json, result, lambda c: c.print(f"requeued {result['requeued']} failed job(s)"))


@app.command()
def purge(
    ctx: typer.Context,
    older_than: str = typer.Option(..., "--older-than", help="Age of finished jobs to delete: 90s, 30m, 12h, 7d, 2w."),
    batch: int = typer.Option(5000, "--batch", min=1, help="Rows deleted per transaction."),
) -> None:
    """Delete completed and failed jobs that finished longer ago than --older-than."""
    from toolkit.queue import parse_duration

    app_ctx = ctx.obj
    age = parse_duration(older_than)
    queue = _queue(app_ctx)
    candidates = queue.purge_candidates(age)
    app_ctx.confirm(queue.target, f"deleting {candidates} finished job(s) older than {older_than}", destructive=True)
    if app_ctx.json or candidates == 0:
        result = queue.purge(age, batch)
    else:
        from rich.progress import Progress

        with Progress(console=err_console(), transient=True) as bar:
            task = bar.add_task("purging", total=candidates)
            result = queue.purge(age, batch, progress=lambda n: bar.advance(task, n))
    emit(app_ctx.json, result, lambda c: c.print(f"deleted {result['deleted']} finished job(s)"))
