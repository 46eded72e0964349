"""The bake's canary analysis: one rule for `toolkit monitor`, `promote` and the migration
checklist. Four criteria over a window of one data type's recent work (settings.monitor), each
pass, fail or inconclusive: a criterion with too little to judge says so instead of passing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from toolkit.queries import composed

if TYPE_CHECKING:
    import psycopg

    from toolkit.config import DataType, Monitor, Plan

Result = Literal["pass", "fail", "inconclusive"]
CRITERIA = ("queue_depth", "success_rate", "freshness", "errors")
FILE = "migration.sql"


@dataclass(frozen=True)
class Judgement:
    criterion: str
    result: Result
    evidence: str


def measure(conn: "psycopg.Connection", plan: "Plan", dt: "DataType", window_minutes: int) -> dict:
    """The type's numbers over the window: the same for every caller."""
    n = plan.names
    names = {"pending": n.partition("pending"), "completed": n.partition("completed"),
             "failed": n.partition("failed"), "subscriptions": n["active_subscriptions"]}
    jobs = _row(conn.execute(composed("monitor_jobs", FILE, **names), {"data_type": dt.name, "window": window_minutes}))
    fresh = _row(conn.execute(composed("monitor_freshness", FILE, **names), {
        "data_type": dt.name, "table": dt.table, "key_column": dt.key_column, "timestamp_column": dt.timestamp_column,
        "ttl": dt.ttl_seconds, "scheduled": dt.strategy == "scheduled",
        "subscription_ttl": plan.settings.staleness.subscription_ttl_seconds}))
    finished = jobs["completed"] + jobs["failed"]
    return {"queue_depth": jobs["queue_depth"], "completed": jobs["completed"], "failed": jobs["failed"],
            "success_rate": jobs["completed"] / finished if finished else None,
            "viewed": fresh["viewed"], "stale": fresh["stale"],
            "stale_share": fresh["stale"] / fresh["viewed"] if fresh["viewed"] else None,
            "logged_errors": jobs["logged_errors"], "errors": jobs["logged_errors"] + jobs["failed"]}


def judge(m: "Monitor", metrics: dict, dt: "DataType", window_minutes: int) -> list[Judgement]:
    depth, done, failed = metrics["queue_depth"], metrics["completed"], metrics["failed"]
    finished, needed = done + failed, max(m.min_jobs, 1)
    judgements = [Judgement("queue_depth", "pass" if depth <= m.max_queue_depth else "fail",
                            f"{depth} pending {dt.name} job(s), at most {m.max_queue_depth}")]
    if finished < needed:
        judgements.append(Judgement("success_rate", "inconclusive",
                                    f"only {finished} {dt.name} job(s) finished in the last {window_minutes} min; "
                                    f"{needed} needed to judge"))
    else:
        rate = metrics["success_rate"]
        judgements.append(Judgement("success_rate", "pass" if rate >= m.min_success_rate else "fail",
                                    f"{done} completed, {failed} failed in the last {window_minutes} min: "
                                    f"{rate:.1%} success, at least {m.min_success_rate:.0%} needed"))
    judgements.append(_freshness(m, metrics, dt))
    errors = metrics["errors"]
    judgements.append(Judgement("errors", "pass" if errors <= m.max_errors else "fail",
                                f"{errors} error(s) in the last {window_minutes} min ({metrics['logged_errors']} logged "
                                f"warnings or errors for {dt.name}, {failed} failed jobs), at most {m.max_errors}"))
    return judgements


def _freshness(m: "Monitor", metrics: dict, dt: "DataType") -> Judgement:
    keys, stale = metrics["viewed"], metrics["stale"]
    if dt.key_column is None:
        what = "the whole table (a global type)"
    elif dt.strategy == "scheduled":
        what = f"{dt.key_column} key(s) (a scheduled type: all of them)"
    else:
        what = "viewed symbol(s)"
    if keys == 0:
        nothing = (f"nobody is viewing {dt.name} right now" if dt.strategy != "scheduled"
                   else f"{dt.table} has no rows yet")
        return Judgement("freshness", "inconclusive", f"{nothing}: nothing to judge")
    share = metrics["stale_share"]
    return Judgement("freshness", "pass" if share <= m.max_stale_share else "fail",
                     f"{stale} of {keys} {what} older than the TTL ({share:.0%}, at most {m.max_stale_share:.0%} allowed)")


def verdict(judgements: list[Judgement]) -> Result:
    results = {j.result for j in judgements}
    return "fail" if "fail" in results else "inconclusive" if "inconclusive" in results else "pass"


def assess(conn: "psycopg.Connection", plan: "Plan", dt: "DataType", window_minutes: int | None = None) -> dict:
    """Measure and judge: the verdict, the reasons it is not a pass, the metrics, each criterion."""
    window = window_minutes or plan.settings.monitor.window_minutes
    metrics = measure(conn, plan, dt, window)
    judgements = judge(plan.settings.monitor, metrics, dt, window)
    return {"verdict": verdict(judgements), "reasons": [j.evidence for j in judgements if j.result != "pass"],
            "metrics": metrics, "criteria": [asdict(j) for j in judgements], "window_minutes": window}


def _row(cur) -> dict:
    return dict(zip([c.name for c in cur.description], cur.fetchone()))
