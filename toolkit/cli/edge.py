"""`toolkit edge ...`: serve the Edge Functions locally, type-check and lint them, run their tests."""

from __future__ import annotations

import time
from typing import Optional

import typer

from toolkit.cli.output import emit, err_console

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The Edge Functions (templates/edge): serve locally, check, test.")


def _report(app_ctx, run) -> None:
    emit(app_ctx.json, {"ok": run.ok, "commands": run.commands, "output": run.output},
         lambda c: c.print(run.output, markup=False, highlight=False, soft_wrap=True))
    if not run.ok:
        raise typer.Exit(1)


def _local_build(ctx: typer.Context):
    """The plan's functions with the local gateway, in a temporary folder (removed by the caller)."""
    from toolkit import edge
    from toolkit.dev.gateway import temporary_build

    return temporary_build(edge.functions_dir(ctx.obj.project), ctx.obj.load_plan().plan.names)


def _on_build(ctx: typer.Context, run_on) -> None:
    import shutil

    folder = _local_build(ctx)
    try:
        _report(ctx.obj, run_on(folder))
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


@app.command()
def check(ctx: typer.Context) -> None:
    """`deno check` every function's index.ts and handler.ts (and the local gateway, the tests), then `deno lint`."""
    from toolkit import edge

    _on_build(ctx, edge.check)


@app.command()
def test(ctx: typer.Context) -> None:
    """Run the Deno unit tests of the functions and the local gateway, on the plan's build."""
    from toolkit import edge

    _on_build(ctx, edge.test)


@app.command()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(54331, "--port", help="Port on 127.0.0.1 (phases.yaml's processor_url uses 54331)."),
    market_data_url: Optional[str] = typer.Option(
        None, "--market-data-url", envvar="MARKET_DATA_BASE_URL",
        help="Market-data base URL, e.g. a `toolkit sandbox` URL. Default: the plan's market_data_base_url."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="MARKET_DATA_API_KEY",
                                          help="Market-data API key."),
    timeout_ms: Optional[int] = typer.Option(None, "--timeout-ms", min=1,
                                             help="Abort market-data calls after this long (default 10000)."),
) -> None:
    """Serve every function at http://127.0.0.1:PORT/functions/v1/<name> until Ctrl-C."""
    from toolkit import edge
    from toolkit.dev.gateway import serve as serve_functions
    from toolkit.dev.jwt import local_jwt_secret

    from toolkit.final import moved_functions

    app_ctx = ctx.obj
    target = app_ctx.target()
    app_ctx.confirm(target, "serving the Edge Functions (the queue processor writes data)", destructive=False)
    plan = app_ctx.plan_on(target).plan  # after phase 6: the base slugs, the old ones pointing there
    url = market_data_url or plan.settings.market_data_base_url
    project = app_ctx.project
    secret = local_jwt_secret(project.root)
    console = err_console()
    if not api_key:
        console.print("[yellow]warning:[/] no --api-key / MARKET_DATA_API_KEY: the queue processor will refuse to run",
                      highlight=False)
    names = plan.names
    server = serve_functions(target.conninfo, names=names, port=port, jwt_secret=secret, market_data_url=url,
                             api_key=api_key or "", timeout_ms=timeout_ms, folder=edge.functions_dir(project),
                             moved=moved_functions(plan))
    try:
        _announce(server, url, names.slug("queue-processor"))
        _follow(server)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        console.print("stopped", highlight=False)


def _announce(server, market_data_url: str, processor: str) -> None:
    token = server.token(role="service_role", sub="toolkit-local", ttl=7 * 24 * 3600)
    console = err_console()
    console.print(f"Edge Functions at [bold]{server.functions_url}[/]  (market data: {market_data_url})",
                  highlight=False, soft_wrap=True)
    console.print(f"service-role token (7 days):\n{token}", highlight=False, soft_wrap=True, markup=False)
    console.print("try:", highlight=False)
    console.print(f"  curl -s {server.functions_url}/health-check", highlight=False, soft_wrap=True, markup=False)
    console.print(f"  curl -s -X POST -H 'Authorization: Bearer {token}' {server.functions_url}/{processor}",
                  highlight=False, soft_wrap=True, markup=False)
    console.print("Ctrl-C stops.", highlight=False)


def _follow(server) -> None:
    """Echo the server's log until it exits (or Ctrl-C)."""
    with open(server.log_file, errors="replace") as log:
        while True:
            chunk = log.read()
            if chunk:
                print(chunk, end="", flush=True)
            if not server.running():
                raise typer.Exit(1)
            time.sleep(0.3)
