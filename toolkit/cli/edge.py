"""`toolkit edge ...`: deploy the Edge Functions (to a project, or the local gateway), list them
with their drift, delete them, invoke one; serve them locally, type-check and lint them, run
their tests."""

from __future__ import annotations

import time
from typing import List, Optional

import typer

from toolkit.cli.output import emit, err_console, styled, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The Edge Functions (templates/edge): deploy, list, delete, invoke; serve locally, check, test.")


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
    from toolkit.dev.gateway import check_port
    from toolkit.dev.gateway import serve as serve_functions
    from toolkit.dev.jwt import local_jwt_secret

    from toolkit.final import moved_functions

    app_ctx = ctx.obj
    check_port(port)  # before anything is said or started
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
    realtime = _local_realtime(app_ctx)
    server = serve_functions(target.conninfo, names=names, port=port, jwt_secret=secret, market_data_url=url,
                             api_key=api_key or "", timeout_ms=timeout_ms, folder=edge.functions_dir(project),
                             realtime_url=realtime, moved=moved_functions(plan))
    try:
        _announce(server, url, names.slug("queue-processor"))
        _follow(server)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        console.print("stopped", highlight=False)


def _local_realtime(app_ctx) -> str | None:
    """The Realtime stand-in `toolkit local up` runs, which the gateway fronts at /realtime/v1."""
    cluster = app_ctx.cluster()
    if cluster.state() is None:
        return None
    port = cluster.realtime().port()
    if port is None:
        err_console().print("[yellow]warning:[/] the local Realtime server is not running (`toolkit local up` starts it): "
                            "/realtime/v1 will not answer", highlight=False)
        return None
    return f"http://127.0.0.1:{port}"


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


# ---------------------------------------------------------------------------------------
# deploy / list / delete / invoke

def _engine(ctx: typer.Context):
    from toolkit.engine import Engine

    app_ctx = ctx.obj
    return Engine(app_ctx.load_plan(), app_ctx.target(), app_ctx.actor_name())


@app.command()
def deploy(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Functions (slug or folder name). Default: every "
                                                "function of the phases whose SQL is applied."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a function's required secret is not set."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Deploy only; `phase verify` checks later."),
) -> None:
    """Deploy the plan's rendered functions to the project (Management API), or record them as
    served by the local gateway; each is recorded, then verified."""
    from toolkit.errors import CheckFailed, ToolkitError

    app_ctx = ctx.obj
    engine = _engine(ctx)
    with _connection(engine) as conn:
        todo = engine.edge_items(conn, names or [])
    if not todo:
        raise ToolkitError("no function to deploy: no phase with Edge Functions is applied",
                           hint="`toolkit phase apply 0` applies phase 0 and deploys the health check")
    slugs = [engine.plan.names.slug(i.base) for i in todo]
    app_ctx.confirm(engine.target, "deploying Edge Functions", destructive=False,
                    changes=[f"deploy {', '.join(slugs)} to {engine.served.describe()}"])
    outcomes, warnings = engine.deploy_edges([i.base for i in todo], verify=not no_verify)
    payload = {"outcomes": [o.row() for o in outcomes], "warnings": warnings}
    emit(app_ctx.json, payload, lambda c: c.print(table(None, ["function", "phase", "result", "version", "message"], [
        [o.slug, o.phase, o.result, o.version or "", o.message] for o in outcomes])))
    for w in warnings:
        if not app_ctx.json:
            err_console().print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    app_ctx.after_change(engine.target)
    failed = [o for o in outcomes if o.result == "failed"]
    if failed:
        raise ToolkitError(f"{len(failed)} function(s) could not be deployed: "
                           + "; ".join(f"{o.slug}: {o.message}" for o in failed),
                           hint="the others were deployed; the record says what runs")
    if [o for o in outcomes if not o.ok]:
        raise CheckFailed("deployed, but " + "; ".join(o.message for o in outcomes if not o.ok))
    if strict and warnings:
        raise CheckFailed(f"{len(warnings)} function(s) lack required secrets (--strict)")


def _connection(engine):
    from toolkit.db import connect

    return connect(engine.target, autocommit=True)


@app.command("list")
def list_functions(ctx: typer.Context) -> None:
    """What is deployed (version, status, verify_jwt, updated) next to what the templates would
    deploy; exit 1 on drift."""
    from toolkit.deploy import listing
    from toolkit.states import DRIFT

    engine = _engine(ctx)
    try:
        with _connection(engine) as conn:
            rows = listing(conn, engine.loaded, engine.served)
    finally:
        engine.close()
    emit(ctx.obj.json, rows, lambda c: c.print(table(
        f"Edge Functions on {engine.served.describe()}",
        ["function", "phase", "state", "recorded", "deployed", "status", "verify_jwt", "verified", "drift"],
        [[r["function"], r["phase"] if r["phase"] is not None else "-", styled(r["state"]),
          r["recorded_version"] or ("served" if r["recorded_hash"] else ""), r["version"] or "", r["status"] or "",
          r["verify_jwt"], {True: "yes", False: "NO", None: ""}[r["verified"]], "; ".join(r["drift"])]
         for r in rows])))
    if any(r["state"] == DRIFT for r in rows):
        raise typer.Exit(1)


@app.command()
def delete(ctx: typer.Context, names: List[str] = typer.Argument(..., help="Functions (slug or folder name).")) -> None:
    """Delete functions from the project (the ref must be typed, or --yes) and forget their records."""
    app_ctx = ctx.obj
    engine = _engine(ctx)
    app_ctx.confirm(engine.target, "deleting Edge Functions", destructive=True,
                    changes=[f"delete {', '.join(names)} from {engine.served.describe()}"])
    outcomes = engine.remove_edges(names)
    emit(app_ctx.json, [o.row() for o in outcomes],
         lambda c: c.print("\n".join(f"{o.slug}: {o.result}" for o in outcomes), highlight=False))
    app_ctx.after_change(engine.target)


ROLES = {"anon": "anon", "user": "authenticated", "service": "service_role"}


@app.command()
def invoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The function (slug or folder name)."),
    body: Optional[str] = typer.Option(None, "--json", help="A JSON request body (POST)."),
    as_role: str = typer.Option("service", "--as", help="anon, user or service: whose key/token to send."),
    method: Optional[str] = typer.Option(None, "--method", help="HTTP method (default POST, GET without a body)."),
) -> None:
    """Call a function through the supabase client, as an app would: on the project (keys from
    SUPABASE_ANON_KEY / SUPABASE_SERVICE_ROLE_KEY / SUPABASE_USER_JWT), or on the local gateway
    (`toolkit edge serve`; tokens minted with the local secret)."""
    import json

    from toolkit.errors import CheckFailed, ToolkitError
    from toolkit.invoke import invoke as call

    app_ctx = ctx.obj
    if as_role not in ROLES:
        raise ToolkitError(f"--as must be anon, user or service (got {as_role!r})")
    try:
        payload = None if body is None else json.loads(body)
    except ValueError as exc:
        raise ToolkitError(f"--json is not JSON: {exc}") from None
    plan = app_ctx.load_plan().plan
    slug = plan.names.slug(name) if name in _bases() else name
    project = app_ctx.functions_project()
    functions_url, key, token = _credentials(app_ctx, project, as_role)
    reply = call(functions_url, slug, key=key, token=token, body=payload,
                 method=method or ("POST" if payload is not None else "GET"))
    emit(app_ctx.json, {"status": reply.status, "body": reply.body, "error": reply.error},
         lambda c: print(json.dumps(reply.body, indent=2) if not isinstance(reply.body, str) else reply.body))
    if not reply.ok:
        raise CheckFailed(f"{slug} answered {reply.error}" if reply.status else f"{slug}: {reply.error}")


def _bases() -> set[str]:
    from toolkit.names import EDGE_FUNCTIONS

    return set(EDGE_FUNCTIONS)


def _credentials(app_ctx, project, as_role: str) -> tuple[str, str, str]:
    """(functions URL, apikey, bearer token) for the role."""
    import os
    import uuid

    from toolkit.errors import ToolkitError

    if project is not None:
        def env(name: str) -> str:
            if not os.environ.get(name):
                raise ToolkitError(f"{name} is not set", hint="Dashboard > Project Settings > API keys")
            return os.environ[name]

        if as_role == "service":
            key = env("SUPABASE_SERVICE_ROLE_KEY")
            return project.functions_url, key, key
        anon = env("SUPABASE_ANON_KEY")
        return project.functions_url, anon, env("SUPABASE_USER_JWT") if as_role == "user" else anon
    from toolkit.dev.jwt import local_jwt_secret, mint_jwt
    from toolkit.dev.gateway import DEFAULT_PORT

    secret = local_jwt_secret(app_ctx.project.root)
    anon = mint_jwt(secret, role="anon")
    token = mint_jwt(secret, role=ROLES[as_role], sub=str(uuid.uuid4()) if as_role == "user" else "toolkit-invoke")
    url = app_ctx.functions_url or f"http://127.0.0.1:{DEFAULT_PORT}/functions/v1"
    return url, anon if as_role != "service" else token, token
