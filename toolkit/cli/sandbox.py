"""`toolkit sandbox ...`: a local stand-in for the FMP API, for local runs and tests."""

from __future__ import annotations

from typing import Optional

import typer

from toolkit.cli.output import emit, err_console, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="A local stand-in for the FMP 'stable' API (127.0.0.1 only): serve, stats.")

DEFAULT_PORT = 54340
SUMMARY_EVERY = 10.0  # seconds between the one-line summaries of `serve`


@app.command()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(DEFAULT_PORT, "--port", min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one."),
    calls_per_minute: int = typer.Option(300, "--calls-per-minute", min=1, help="Calls allowed in any 60 s; beyond: 429."),
    error_rate: float = typer.Option(0.0, "--error-rate", min=0, max=1, help="Share of calls answered 500/502/503."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0, help="Delay added before every answer."),
    slow_seconds: float = typer.Option(0.0, "--slow-seconds", min=0,
                                       help="With --fast-seconds: the latency comes in waves, this long ..."),
    fast_seconds: float = typer.Option(0.0, "--fast-seconds", min=0, help="... then this long without it, and again."),
    malformed_rate: float = typer.Option(0.0, "--malformed-rate", min=0, max=1, help="Share of 200s with a truncated JSON body."),
    force_status: Optional[int] = typer.Option(None, "--force-status", help="Answer every call with this status (e.g. 429, 503)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", help="Accept only this key (default: any non-empty key)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fault dice."),
    summary_every: float = typer.Option(SUMMARY_EVERY, "--summary-every", min=0.05, hidden=True),  # tests
) -> None:
    """Serve the sandbox in the foreground until Ctrl-C; the base URL and a summary every 10 s go to stderr."""
    import signal

    from toolkit.errors import ToolkitError
    from toolkit.dev.sandbox import SandboxServer

    try:
        server = SandboxServer(port, calls_per_minute, api_key=api_key, seed=seed, error_rate=error_rate,
                               latency_ms=latency_ms, slow_seconds=slow_seconds, fast_seconds=fast_seconds,
                               malformed_rate=malformed_rate, force_status=force_status)
    except ValueError as exc:  # a knob out of range, e.g. --force-status 200
        raise ToolkitError(str(exc)) from None
    _start(server, port)
    # Ctrl-C and `kill` stop it cleanly, even when started from a shell that ignores SIGINT (`cmd &`).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    quiet = ctx.obj.json
    _announce(server, quiet)
    try:
        _report_until_interrupted(server, quiet, summary_every)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if not quiet:
        err_console().print("sandbox stopped", highlight=False)


def _announce(server, quiet: bool) -> None:
    import sys

    if quiet:  # --json: the address is the payload, for scripts that start it with --port 0
        emit(True, {"url": server.url, "root_url": server.root_url, "port": server.port}, lambda c: None)
        sys.stdout.flush()  # a script reading a pipe needs it now, not at exit
    else:
        err_console().print(f"FMP sandbox listening on {server.url}  "
                            f"(control: {server.root_url}/_sandbox/stats; Ctrl-C stops)", highlight=False, soft_wrap=True)


def _start(server, port: int) -> None:
    import errno

    from toolkit.errors import ToolkitError

    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ToolkitError(f"port {port} on 127.0.0.1 is already in use",
                               hint="pick another with --port, or --port 0 for a free one") from None
        raise ToolkitError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None


def _report_until_interrupted(server, quiet: bool, every: float) -> None:
    import sys
    import time

    previous = 0
    while True:
        time.sleep(every)
        s = server.stats()
        if not quiet:
            print(f"{time.strftime('%H:%M:%S')} {_summary(s, s['calls'] - previous)}", file=sys.stderr, flush=True)
        previous = s["calls"]


def _summary(s: dict, new_calls: int) -> str:
    too_many = s["by_status"].get("429", {}).get("calls", 0)
    return (f"calls {s['calls']} (+{new_calls}), bytes {_human(s['bytes'])}, 429s {too_many} "
            f"(rate-limited {s['rate_limited']}), window {s['window']['calls']}/{s['window']['limit']}")


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


@app.command()
def stats(
    ctx: typer.Context,
    url: str = typer.Option(f"http://127.0.0.1:{DEFAULT_PORT}", "--url", help="The running sandbox (its root or its /stable URL)."),
    json_output: bool = typer.Option(False, "--json", help="Print only the stats, as JSON."),
) -> None:
    """Calls and bytes served by a running sandbox, in total, per endpoint and per status."""
    data = _fetch_stats(url)

    def render(c):
        c.print(table(f"sandbox at {url}", ["", ""], [
            ["calls", data["calls"]], ["bytes", f"{data['bytes']:,}"], ["rate limited (429)", data["rate_limited"]],
            ["window", f"{data['window']['calls']}/{data['window']['limit']} per {data['window']['seconds']:g} s"],
            ["faults", ", ".join(f"{k}={v}" for k, v in data["faults"].items())], ["since", data["since"]],
        ]))
        if data["by_endpoint"]:
            c.print(table("per endpoint", ["endpoint", "calls", "bytes", "statuses"], [
                [ep, e["calls"], f"{e['bytes']:,}", ", ".join(f"{k}: {v}" for k, v in sorted(e["by_status"].items()))]
                for ep, e in sorted(data["by_endpoint"].items())]))
            c.print(table("per status", ["status", "calls", "bytes"], [
                [st, v["calls"], f"{v['bytes']:,}"] for st, v in sorted(data["by_status"].items())]))
    emit(json_output or ctx.obj.json, data, render)


def _fetch_stats(url: str) -> dict:
    import json
    import urllib.error
    import urllib.request

    from toolkit.errors import ToolkitError

    root = url.rstrip("/").removesuffix("/stable")
    try:
        # No proxies: the sandbox is on this machine, and an http_proxy setting must not intercept it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{root}/_sandbox/stats", timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ToolkitError(f"cannot reach the sandbox at {root}: {reason}",
                           hint="start it with `toolkit sandbox serve`, or pass its address with --url") from None
