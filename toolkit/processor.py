"""The external ticker: what pg_cron + pg_net do in "all in Postgres" mode, done from outside.

A tick asks `invoke_processor_loop` (with the plan's suffix) whether to run (it holds lock 44, recovers stuck
jobs, consults the circuit breaker and the budget); when the answer is that an external
ticker must call the processor, it calls the queue-processor Edge Function over HTTP. A
call that fails outright is reported to the breaker, as pg_net's response check would.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from toolkit.config import Plan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.queries import composed

NEEDS = "`toolkit phase apply 2` deploys the processor loop"
CALL_TIMEOUT_S = 70  # above the processor's own 50 s budget, so we hear its answer


@dataclass
class Ticker:
    plan: Plan
    target: Target
    url: str
    token: str

    def _q(self, name: str):
        n = self.plan.names
        return composed(name, "queue.sql", invoke_loop=n["invoke_processor_loop"],
                        record_result=n["record_processor_result"], pending=n.partition("pending"))

    def tick(self, body: dict | None = None) -> dict:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            loop = conn.execute(self._q("invoke_loop")).fetchone()[0]
        if loop.get("action") != "external":
            return {"loop": loop, "processor": None}
        return {"loop": loop, "processor": self._call(body or {})}

    def _call(self, body: dict) -> dict:
        import httpx

        try:
            response = httpx.post(self.url, json=body, timeout=CALL_TIMEOUT_S,
                                  headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        if response.status_code >= 300:
            return self._failed(f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            return self._failed(f"not JSON: {response.text[:300]}")

    def _failed(self, error: str) -> dict:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            state = conn.execute(self._q("record_result"), {"ok": False, "error": error}).fetchone()[0]
        return {"error": error, "breaker": state}

    def due(self) -> int:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            return conn.execute(self._q("due")).fetchone()[0]

    def run(self, interval: float, until_empty: bool, max_ticks: int | None,
            report: Callable[[dict], None] | None = None) -> dict:
        """Tick every `interval` seconds; with `until_empty`, back to back until nothing is due
        (waiting `interval` only when the loop holds back: breaker open, budget spent, busy)."""
        ticks, completed = 0, 0
        while max_ticks is None or ticks < max_ticks:
            result = self.tick()
            ticks += 1
            completed += (result["processor"] or {}).get("completed", 0)
            if report:
                report(result)
            held_back = result["loop"].get("action") == "skipped" or bool((result["processor"] or {}).get("error"))
            if until_empty and self.due() == 0:
                break
            if not until_empty or held_back:
                time.sleep(interval)
        return {"ticks": ticks, "completed": completed, "due": self.due()}


def service_token(project_root: Path) -> str:
    """The processor's bearer token: SUPABASE_SERVICE_ROLE_KEY, or one minted for the local stack."""
    if os.environ.get("SUPABASE_SERVICE_ROLE_KEY"):
        return os.environ["SUPABASE_SERVICE_ROLE_KEY"]
    from toolkit.dev.jwt import local_jwt_secret, mint_jwt  # no key given: the local stack's

    return mint_jwt(local_jwt_secret(project_root), sub="toolkit-ticker", role="service_role", ttl=3600)


def require_url(url: str | None, plan: Plan) -> str:
    url = url or os.environ.get("TOOLKIT_PROCESSOR_URL") or plan.processor_url
    if not url.startswith(("http://", "https://")):
        raise ToolkitError(f"the processor URL {url!r} is not an http(s) URL")
    return url
