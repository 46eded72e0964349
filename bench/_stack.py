"""The local stack the user-facing benches run against (freshness.py, efficiency.py).

A throwaway cluster with the legacy example app and phases 0-3 applied (external scheduler
mode: the ticker starts the processor, as `toolkit processor run` does), the sandbox provider
with its latency, the Edge Functions served by the gateway, every flag on, and the legacy
cron jobs paused (the types are migrated). Everything is removed afterwards.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.dev.gateway import serve  # noqa: E402
from toolkit.dev.jwt import mint_jwt  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402
from toolkit.dev.sandbox.server import SandboxServer  # noqa: E402
from toolkit.engine import Engine  # noqa: E402
from toolkit.processor import Ticker  # noqa: E402

SECRET = "bench-jwt-secret-0123456789abcdef0123"
# The key columns and values of a symbol's row in the per-symbol tables whose key has more
# columns than the symbol (efficiency.py and track_rate.py seed them).
EXTRA_KEY_COLUMNS = {
    "financial_statements": ("statement_type, period, fiscal_year, data", "'income', 'FY', 2025, '{}'::jsonb"),
    "dividend_history": ("ex_date", "date '2025-06-01'"),
    "revenue_segmentation": ("fiscal_year, period, data", "2025, 'FY', '{}'::jsonb"),
    "grades_historical": ("date", "date '2025-06-01'"),
    "exchange_variants": ("variant_symbol", "s.symbol || '.X'"),
}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


@dataclass
class Stack:
    url: str
    loaded: object
    sandbox: SandboxServer
    server: object
    ticker: Ticker
    threads: list = field(default_factory=list)

    def sql(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, statement: str, params=None):
        rows = self.sql(statement, params)
        return rows[0][0] if rows else None

    def has_drain_setting(self) -> bool:
        """Whether this tree's processor has the drain setting (the continuous processor)."""
        return bool(self.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'queue_config_v2' "
                                "AND column_name = 'processor_drain'"))

    def set_drain(self, mode: str) -> None:
        if self.has_drain_setting():
            self.sql("UPDATE public.queue_config_v2 SET processor_drain = %s", [mode])
        elif mode != "once":
            raise SystemExit(f"this tree's processor has no drain setting: mode {mode!r} is not available")

    def track(self, user: str, symbol: str, types: list[str]) -> dict:
        """What a page does when it opens: POST track-subscription with the user's token."""
        token = mint_jwt(SECRET, sub=user, role="authenticated")
        request = urllib.request.Request(
            f"{self.server.functions_url}/{self.loaded.plan.names.slug('track-subscription')}", method="POST",
            data=json.dumps({"symbol": symbol, "dataTypes": types}).encode(),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
        try:
            with _DIRECT.open(request, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return {"tracked": False, "status": exc.code}

    def start_ticker(self, interval: float, stop: threading.Event) -> threading.Thread:
        """`toolkit processor run --interval N` in a thread, until `stop`."""
        t = threading.Thread(target=lambda: self.ticker.run(interval, False, None, stop=stop), daemon=True)
        t.start()
        self.threads.append(t)
        return t


@contextmanager
def stack(latency_ms: float, calls_per_minute: int | None = None) -> Iterator[Stack]:
    loaded = load_plan(ROOT / "phases.yaml")
    limit = calls_per_minute or loaded.plan.settings.quotas.calls_per_window
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp, ExitStack() as stack_:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        cluster.up(bootstrap_example=ROOT / "examples" / "legacy_app")
        stack_.callback(cluster.destroy)
        url = cluster.conninfo()
        Engine(loaded, target_from_url(url), "bench").apply([0, 1, 2, 3])
        with psycopg.connect(url, autocommit=True) as conn:
            # The types are migrated: their legacy jobs are off. The system's own jobs run.
            conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname NOT LIKE 'queue-%%'")
            conn.execute("UPDATE public.feature_flags SET enabled = true")
            if calls_per_minute:  # the project's budget is the provider plan's limit
                conn.execute("UPDATE public.queue_config_v2 SET calls_per_window = %s, call_window_seconds = 60",
                             [calls_per_minute])
        sandbox = stack_.enter_context(SandboxServer(port=0, calls_per_minute=limit, latency_ms=latency_ms))
        server = stack_.enter_context(serve(url, names=loaded.plan.names, port=None, jwt_secret=SECRET,
                                            market_data_url=sandbox.url, api_key="bench"))
        ticker = Ticker(loaded.plan, target_from_url(url),
                        f"{server.functions_url}/{loaded.plan.names.slug('queue-processor')}", server.token())
        yield Stack(url, loaded, sandbox, server, ticker)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q * (len(s) - 1))))]


def wait_until(predicate, timeout: float, step: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
