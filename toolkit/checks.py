"""Automated checklist items that SQL alone cannot answer (`run: NAME` in a checklist): the
documents in the workspace are current, every phase verifies, and a full refresh cycle goes
through (queue -> processor -> data). Each returns (ok, evidence); an error is a failed item
with its message as the evidence, never a crashed run.

They need what the command knows beyond the database: the loaded plan (templates) and the
workspace, given to the checklist runner as a `CheckContext`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.config import LoadedPlan
    from toolkit.db import Target

SMOKE_TIMEOUT_S = 90.0
SMOKE_POLL_S = 1.0
# Ahead of what viewers queue (a type's priority plus at most 9), far below the extremes that
# rolled-back probes (the verify scripts) use.
SMOKE_PRIORITY = 100


@dataclass
class CheckContext:
    loaded: "LoadedPlan"        # the plan as deployed on the target
    target: "Target"
    workspace: Path
    actor: str


def docs_current(ctx: CheckContext) -> tuple[bool, str]:
    from toolkit.docs import document_states

    states = document_states(ctx.loaded, ctx.target, ctx.workspace)
    return all(s.state == "current" for s in states), "; ".join(
        f"{s.name}: {s.state}" + (f" ({s.note})" if s.note and s.state != "current" else "") for s in states)


def phases_verified(ctx: CheckContext) -> tuple[bool, str]:
    """Every phase's verify run now (and recorded, as `toolkit phase verify` does)."""
    from toolkit.engine import Engine

    engine = Engine(ctx.loaded, ctx.target, ctx.actor, workspace=ctx.workspace)
    failed, passed = [], 0
    for phase in ctx.loaded.plan.phases:
        for row in engine.verify(phase.id):
            if row["result"] == "fail":
                failed.append(f"phase {phase.id} {row['step']}: {row['message'] or 'fail'}")
            elif row["result"] == "pass":
                passed += 1
    if failed:
        return False, f"{len(failed)} step(s) failed verify: " + "; ".join(failed)
    return True, f"{passed} step(s) of phases 0-{ctx.loaded.plan.phases[-1].id} verified now"


def full_cycle(ctx: CheckContext) -> tuple[bool, str]:
    """One refresh end to end, committed: the stalest key of the plan's first per-key type is
    queued ahead of viewers' work, the processor is started (the external ticker, or pg_cron through
    pg_net), and the job must complete and move the row's timestamp within the timeout."""
    from toolkit.db import connect
    from toolkit.processor import Ticker, require_url, service_token
    from toolkit.queries import composed
    from toolkit.queue import Queue

    plan = ctx.loaded.plan
    dt = next((d for d in plan.data_types if d.key_column), None)
    if dt is None:
        return False, "no per-key data type in the plan"
    names = {"table": dt.table, "ts": dt.timestamp_column, "key": dt.key_column, "queue": plan.names["api_call_queue"]}
    with connect(ctx.target, autocommit=True) as conn:
        row = conn.execute(composed("stalest_key", FILE, **names)).fetchone()
    if row is None:
        return False, f"public.{dt.table} has no rows to refresh"
    key, before = row
    started = time.monotonic()
    queued = Queue(plan, ctx.target).enqueue(key, dt.name, SMOKE_PRIORITY)
    job = queued["job_id"]
    ticker = Ticker(plan, ctx.target, require_url(None, plan), service_token(ctx.workspace))
    status, after = None, before
    while time.monotonic() - started < SMOKE_TIMEOUT_S:
        called = ticker.tick(until_empty=True)["processor"] or {}
        if called.get("error"):
            return False, f"job {job} ({dt.name} {key}) is queued, but the processor could not be called: {called['error']}"
        with connect(ctx.target, autocommit=True) as conn:
            status, error, after = conn.execute(composed("smoke_job", FILE, **names), {"id": job, "key": key}).fetchone()
        if status in ("completed", "failed"):
            break
        time.sleep(SMOKE_POLL_S)
    took = time.monotonic() - started
    what = f"job {job} ({dt.name} {key}, {queued['outcome']})"
    if status != "completed":
        return False, f"{what} is {status or 'gone'} after {took:.0f} s" + (f": {error}" if status == "failed" else "")
    if before is not None and (after is None or after <= before):
        return False, f"{what} completed but public.{dt.table}.{dt.timestamp_column} did not move ({before} -> {after})"
    return True, (f"{what} completed through the processor in {took:.1f} s; "
                  f"public.{dt.table}.{dt.timestamp_column} {before} -> {after}")


FILE = "checks.sql"
BUILTINS: dict[str, Callable[[CheckContext], "tuple[bool, str]"]] = {
    "docs.current": docs_current,
    "phases.verified": phases_verified,
    "cycle.full": full_cycle,
}


def run_builtin(name: str, ctx: CheckContext | None) -> tuple[bool, str]:
    if ctx is None:
        return False, f"{name} needs the command's plan and workspace; run it through `toolkit checklist run`"
    try:
        return BUILTINS[name](ctx)
    except ToolkitError as exc:
        return False, f"error: {exc.message}"
