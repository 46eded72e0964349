"""`toolkit processor tick | run`: the external ticker of the local stack (and of CI schedules)."""

from __future__ import annotations

from typing import Optional

import typer

from toolkit.cli.output import emit, err_console

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The external ticker: ask the processor loop whether to run, then call the processor.")

URL = typer.Option(None, "--url", help="The queue-processor function (default: settings.processor_url, or TOOLKIT_PROCESSOR_URL).")


def _ticker(ctx: typer.Context, url: Optional[str]):
    from toolkit.processor import Ticker, require_url, service_token

    app_ctx = ctx.obj
    target = app_ctx.target()
    plan = app_ctx.plan_on(target).plan
    return Ticker(plan, target, require_url(url, plan), service_token(app_ctx.project.root))


def _line(result: dict) -> str:
    loop, proc = result["loop"], result["processor"]
    text = f"loop: {loop.get('action')}" + (f" ({loop['reason']})" if loop.get("reason") and loop.get("action") != "external" else "")
    if proc:
        text += (f"; processor error: {proc['error']}" if proc.get("error") else
                 f"; processor: {proc.get('completed', 0)} completed, {proc.get('failed', 0)} failed, "
                 f"{proc.get('retried', 0)} retried, {proc.get('calls', 0)} calls, {proc.get('bytes', 0):,} bytes"
                 + (f", {proc['refused']} refused" if proc.get("refused") else "")
                 + f", stopped by {proc.get('stopped_by')}")
    return text


@app.command()
def tick(
    ctx: typer.Context,
    url: Optional[str] = URL,
    until_empty: bool = typer.Option(False, "--until-empty",
                                     help="The run drains what is due and returns, whatever settings.processor.drain says."),
) -> None:
    """One tick: invoke_processor_loop, then the processor if the loop says an external ticker must
    (a continuous run lasts its run time: settings.processor)."""
    result = _ticker(ctx, url).tick(until_empty=until_empty)
    emit(ctx.obj.json, result, lambda c: c.print(_line(result), highlight=False))
    if (result["processor"] or {}).get("error"):
        raise typer.Exit(1)


@app.command()
def run(
    ctx: typer.Context,
    url: Optional[str] = URL,
    interval: float = typer.Option(60, "--interval", min=0, help="Seconds between ticks (pg_cron's is a minute)."),
    until_empty: bool = typer.Option(False, "--until-empty", help="Tick back to back and stop when nothing is due."),
    max_ticks: Optional[int] = typer.Option(None, "--max-ticks", min=1, help="Stop after this many ticks."),
    max_backoff: float = typer.Option(30, "--max-backoff", min=0.1,
                                      help="Longest wait between retries while the database cannot be reached."),
) -> None:
    """Tick repeatedly; outages are waited out. SIGTERM stops after the call in flight (Ctrl-C at once)."""
    import signal
    import threading

    ticker = _ticker(ctx, url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    say = lambda line: err_console().print(line, highlight=False)  # noqa: E731
    report = None if ctx.obj.json else (lambda r: say(_line(r)))
    result = ticker.run(interval, until_empty, max_ticks, report, log=say, stop=stop, max_backoff=max_backoff)
    emit(ctx.obj.json, result, lambda c: c.print(
        f"{result['ticks']} tick(s), {result['completed']} job(s) completed, "
        f"{'?' if result['due'] is None else result['due']} due"
        + (f", {result['outages']} outage(s) waited out" if result["outages"] else "")
        + ("; stopped by SIGTERM" if result["stopped"] else ""), highlight=False))
