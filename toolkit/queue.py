"""Operating the queue of Phase 2: its metrics, enqueueing, retrying and purging history."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Callable

from toolkit.config import Plan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.queries import composed
from toolkit.rules import check_priority, check_symbol

DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
NEEDS = "`toolkit phase apply 2` deploys the queue"


class Queue:
    def __init__(self, plan: Plan, target: Target):
        self.plan = plan
        self.target = target
        n = plan.names
        self.names = {
            "metrics": n["queue_metrics"], "depth": n["queue_depth"], "quota_status": n["get_quota_status"],
            "enqueue": n["queue_refresh_if_not_exists"], "retry_failed": n["retry_failed_jobs"],
            "purge": n["purge_queue_history"], "completed": n.partition("completed"), "failed": n.partition("failed"),
            "registry": n["data_type_registry"], "usage": n["api_data_usage"], "processor_state": n["processor_state"],
        }

    def _q(self, name: str):
        return composed(name, "queue.sql", **self.names)

    def status(self) -> dict:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            cur = conn.execute(self._q("metrics"))
            metrics = dict(zip([c.name for c in cur.description], cur.fetchone()))
            depth = [dict(zip(("status", "data_type", "jobs", "due"), r)) for r in conn.execute(self._q("depth"))]
            quota = conn.execute(self._q("quota")).fetchone()[0]
            runtime = conn.execute(self._q("runtime")).fetchone()[0]
        age = metrics.get("oldest_pending_age")
        metrics["oldest_pending_age"] = age.total_seconds() if isinstance(age, timedelta) else age
        return {"target": self.target.describe(), "metrics": metrics, "depth": depth, "quota": quota,
                "runtime": runtime}

    def enqueue(self, symbol: str, data_type: str, priority: int) -> dict:
        symbol = check_symbol(symbol)
        check_priority(priority)
        known = [d.name for d in self.plan.data_types]
        if data_type not in known:
            raise ToolkitError(f"unknown data type {data_type!r}", hint=f"one of: {', '.join(known)}")
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            job_id, outcome = conn.execute(
                self._q("enqueue"), {"symbol": symbol, "data_type": data_type, "priority": priority}).fetchone()
        return {"job_id": job_id, "outcome": outcome, "symbol": symbol, "data_type": data_type, "priority": priority}

    def retry_failed(self, data_type: str | None, limit: int) -> dict:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            moved = conn.execute(self._q("retry_failed"), {"data_type": data_type, "limit": limit}).fetchone()[0]
        return {"requeued": moved, "data_type": data_type}

    def purge_candidates(self, older_than: timedelta) -> int:
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            return conn.execute(self._q("purge_candidates"), {"older_than": older_than}).fetchone()[0]

    def purge(self, older_than: timedelta, batch: int = 5000,
              progress: Callable[[int], None] | None = None) -> dict:
        """Delete finished history in bounded batches, each its own transaction."""
        total = 0
        with connect(self.target, autocommit=True) as conn, database_errors(NEEDS):
            while True:
                n = conn.execute(self._q("purge"), {"older_than": older_than, "limit": batch}).fetchone()[0]
                total += n
                if progress:
                    progress(n)
                if n < batch:
                    break
        return {"deleted": total, "older_than_seconds": older_than.total_seconds()}


def parse_duration(text: str) -> timedelta:
    m = DURATION.match(text.strip().lower())
    if not m:
        raise ToolkitError(f"{text!r} is not a duration", hint="use a number and a unit: 90s, 30m, 12h, 7d, 2w")
    return timedelta(**{UNITS[m.group(2)]: int(m.group(1))})
