"""The main job on the embedded local stack: cluster, phases 0-3, the sandbox provider, the
served Edge Functions, a backlog of every data type processed to empty, then the status."""

from __future__ import annotations

from typing import Callable

from toolkit.config import LoadedPlan
from toolkit.db import Target, connect, database_errors, target_from_url
from toolkit.engine import Engine
from toolkit.dev.local.cluster import LocalCluster
from toolkit.project import Project
from toolkit.queries import composed

PHASES = [0, 1, 2, 3]


def backlog(plan, target: Target) -> int:
    """One job per example symbol and on-demand type, one for the global type, one per exchange."""
    q = composed("demo_backlog", "queue.sql", enqueue=plan.names["queue_refreshes"])
    per_symbol = [d.name for d in plan.data_types if d.key_column == "symbol"]
    globals_ = [d.name for d in plan.data_types if d.key_column is None]
    by_exchange = [d.name for d in plan.data_types if d.key_column == "exchange"]
    with connect(target, autocommit=True) as conn, database_errors():
        return conn.execute(q, {"per_symbol": per_symbol, "globals": globals_, "by_exchange": by_exchange}).fetchone()[0]


def run(project: Project, cluster: LocalCluster, loaded: LoadedPlan, actor: str, say: Callable[[str], None]) -> dict:
    from toolkit.dev.gateway import serve
    from toolkit.dev.jwt import local_jwt_secret
    from toolkit.processor import Ticker
    from toolkit.dev.sandbox.server import SandboxServer

    info = cluster.up(bootstrap_example=project.examples / "legacy_app")
    say(f"local cluster {info['action']} ({info['seconds']} s)")
    target = target_from_url(cluster.conninfo())
    Engine(loaded, target, actor).apply(PHASES)
    say("phases 0-3 applied and verified")
    with SandboxServer(port=0) as sandbox:
        say(f"sandbox market-data API at {sandbox.url}")
        with serve(cluster.conninfo(), names=loaded.plan.names, port=None, jwt_secret=local_jwt_secret(project.root),
                   market_data_url=sandbox.url, api_key="sandbox") as server:
            say(f"Edge Functions served at {server.functions_url}")
            queued = backlog(loaded.plan, target)
            say(f"{queued} refresh jobs queued")
            ticker = Ticker(loaded.plan, target, f"{server.functions_url}/{loaded.plan.names.slug('queue-processor')}", server.token())
            result = ticker.run(interval=1, until_empty=True, max_ticks=60,
                                report=lambda r: say(_summary(r)))
            stats = sandbox.stats()
    return {"queued": queued, **result, "provider_calls": stats["calls"], "provider_bytes": stats["bytes"]}


def _summary(result: dict) -> str:
    proc = result["processor"] or {}
    if proc.get("error"):
        return f"tick: processor error {proc['error']}"
    return (f"tick: {result['loop'].get('action')}; {proc.get('completed', 0)} completed, "
            f"{proc.get('failed', 0)} failed, {proc.get('bytes', 0):,} bytes")
