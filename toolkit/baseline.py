"""The baseline of the system before the rollout, captured from the live database and kept in
the toolkit schema (`toolkit baseline capture`), and today against it (`toolkit baseline
compare`): the evidence that the migration paid off.

A capture holds every pg_cron job (schedule, owner, active, its last runs and failures as
cron.job_run_details lets the caller read them), every data table of the plan (rows, keys,
size, the age of its rows) and what each type's legacy schedule implies: runs per day (the
schedule's average over the 400-year Gregorian cycle), calls per run (one per key and
endpoint: a legacy job refreshes its whole table), calls per day, and bytes per 30 days (the
provider's byte window) at the type's estimated bytes per key.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from toolkit import __version__, ledger
from toolkit.config import DataType, Plan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.queries import composed, query

if TYPE_CHECKING:
    import psycopg

FILE = "baseline.sql"
WINDOW_DAYS = 30
PERCENTILES = ("p50", "p90", "p99")
CYCLE_DAYS = 146097          # days in 400 Gregorian years: every weekday/date pattern repeats
CYCLE_START = dt.date(2000, 1, 1).toordinal()


# -- capture -----------------------------------------------------------------------------------

def capture(plan: Plan, target: Target, actor: str) -> dict:
    """Capture the baseline now and store it; returns it."""
    with connect(target, autocommit=True) as conn, database_errors():
        ledger.install(conn)
        figures = read(plan, conn)
        with conn.transaction():
            figures["id"] = conn.execute(query("store", FILE), {
                "at": figures["captured_at"], "actor": actor, "version": __version__,
                "jobs": Jsonb(figures["jobs"]), "tables": Jsonb(figures["tables"]), "implied": Jsonb(figures["implied"]),
            }).fetchone()[0]
    return {**figures, "captured_by": actor}


def read(plan: Plan, conn: "psycopg.Connection") -> dict:
    """The figures as they are now, from one consistent snapshot (nothing is stored)."""
    with conn.transaction():
        conn.execute(query("snapshot", FILE))
        at = conn.execute(query("now", FILE)).fetchone()[0]
        jobs = _jobs(conn, at)
        tables = {d.name: _table(conn, d, at) for d in plan.data_types}
    return {"captured_at": at, "jobs": jobs, "tables": tables, "implied": implied(plan, jobs, tables)}


def _jobs(conn, at) -> list[dict]:
    if not ledger.exists(conn, "cron.job"):
        return []
    cur = conn.execute(query("jobs", FILE), {"at": at})
    names = [c.name for c in cur.description]
    return [_jsonable(dict(zip(names, row))) for row in cur]


def _table(conn, d: DataType, at) -> dict:
    name = f"public.{d.table}"
    if not conn.execute(query("table_exists", FILE), {"name": name}).fetchone()[0]:
        return {"table": d.table, "missing": True}
    ids = {"table": d.table, "ts": d.timestamp_column}
    sql = (composed("table_figures_global", FILE, **ids) if d.key_column is None
           else composed("table_figures", FILE, key=d.key_column, **ids))
    cur = conn.execute(sql, {"name": name, "at": at})
    row = dict(zip([c.name for c in cur.description], cur.fetchone()))
    ages = row.pop("age_seconds") or [None] * len(PERCENTILES)
    return _jsonable({"table": d.table, "missing": False, **row,
                      "age_seconds": dict(zip(PERCENTILES, ages))})


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (dt.datetime, dt.date)):
            out[k] = v.isoformat()
        elif v is not None and not isinstance(v, (str, int, float, bool)):
            out[k] = float(v)  # Decimal
        else:
            out[k] = v
    return out


def implied(plan: Plan, jobs: list[dict], tables: dict[str, dict]) -> dict:
    """What each type's legacy job spends at the current row counts, and the total of the
    jobs that are active."""
    by_name = {j["jobname"]: j for j in jobs}
    types = []
    for d in plan.data_types:
        job = by_name.get(d.legacy_job)
        schedule = job["schedule"] if job else d.legacy_schedule
        keys = 0 if tables[d.name].get("missing") else tables[d.name]["keys"]
        per_day = runs_per_day(schedule)
        calls_per_run = keys * len(d.endpoints)
        types.append({
            "data_type": d.name, "job": d.legacy_job, "scheduled": job is not None,
            "active": bool(job and job["active"]), "schedule": schedule, "runs_per_day": per_day,
            "keys": keys, "endpoints": len(d.endpoints), "calls_per_run": calls_per_run,
            "calls_per_day": per_day * calls_per_run,
            "bytes_per_run": keys * d.estimated_bytes,
            "bytes_per_window": per_day * WINDOW_DAYS * keys * d.estimated_bytes,
        })
    active = [t for t in types if t["active"]]
    return {"types": types, "window_days": WINDOW_DAYS,
            "calls_per_day": sum(t["calls_per_day"] for t in active),
            "bytes_per_window": sum(t["bytes_per_window"] for t in active),
            "quota_bytes_per_window": plan.settings.quotas.bytes_per_window,
            "quota_calls_per_day": plan.settings.quotas.calls_per_window * 86400 // plan.settings.quotas.call_window_seconds}


def latest(conn: "psycopg.Connection") -> dict | None:
    if not ledger.exists(conn, "toolkit.baselines"):
        return None
    cur = conn.execute(query("latest", FILE))
    row = cur.fetchone()
    return dict(zip([c.name for c in cur.description], row)) if row else None


def show(target: Target) -> dict:
    with connect(target, autocommit=True) as conn, database_errors():
        found = latest(conn)
    if found is None:
        raise ToolkitError(f"no baseline has been captured on {target.describe()}",
                           hint="toolkit baseline capture")
    return found


# -- compare -----------------------------------------------------------------------------------

def compare(plan: Plan, target: Target) -> dict:
    """Today against the latest baseline: calls per day (the legacy jobs still active, plus what
    the queue spent in the last day), bytes per 30 days, and each table's freshness."""
    with connect(target, autocommit=True) as conn, database_errors():
        then = latest(conn)
        if then is None:
            raise ToolkitError(f"no baseline has been captured on {target.describe()}",
                               hint="toolkit baseline capture (before the migration, ideally)")
        now = read(plan, conn)
        usage = _queue_usage(plan, conn)
    rows = []
    for d in plan.data_types:
        before = then["tables"].get(d.name, {}).get("age_seconds") or {}
        after = now["tables"][d.name].get("age_seconds") or {}
        imp_then = next((t for t in then["implied"]["types"] if t["data_type"] == d.name), {})
        imp_now = next(t for t in now["implied"]["types"] if t["data_type"] == d.name)
        rows.append({
            "data_type": d.name,
            "legacy_active_then": imp_then.get("active"), "legacy_active_now": imp_now["active"],
            "legacy_calls_per_day_then": imp_then.get("calls_per_day", 0) if imp_then.get("active") else 0,
            "legacy_calls_per_day_now": imp_now["calls_per_day"] if imp_now["active"] else 0,
            "p50_age_then": before.get("p50"), "p50_age_now": after.get("p50"),
            "p90_age_then": before.get("p90"), "p90_age_now": after.get("p90"),
        })
    return {
        "baseline_id": then["id"], "captured_at": then["captured_at"], "compared_at": now["captured_at"],
        "calls_per_day_then": then["implied"]["calls_per_day"],
        "legacy_calls_per_day_now": now["implied"]["calls_per_day"],
        "queue_calls_last_day": usage["calls_last_day"],
        "calls_per_day_now": now["implied"]["calls_per_day"] + usage["calls_last_day"],
        "bytes_per_window_then": then["implied"]["bytes_per_window"],
        "bytes_per_window_now": now["implied"]["bytes_per_window"] + usage["bytes_last_30_days"],
        "types": rows,
    }


def _queue_usage(plan: Plan, conn) -> dict:
    usage = plan.names["api_data_usage"]
    if not ledger.exists(conn, f"public.{usage}"):
        return {"calls_last_day": 0, "bytes_last_30_days": 0}
    cur = conn.execute(composed("queue_usage", FILE, usage=usage))
    return {k: int(v) for k, v in zip([c.name for c in cur.description], cur.fetchone())}


# -- cron schedules ----------------------------------------------------------------------------

def runs_per_day(schedule: str) -> float:
    """How often a pg_cron schedule runs per day, on average over the Gregorian cycle (cron
    syntax; '@daily' and friends too). pg_cron's rule: when both day of month and day of week
    are restricted, a day matching either runs."""
    return _runs_per_day(schedule.strip())


MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@lru_cache(maxsize=256)
def _runs_per_day(schedule: str) -> float:
    text = MACROS.get(schedule, schedule)
    fields = text.split()
    if len(fields) != 5:
        raise ToolkitError(f"{schedule!r} is not a cron schedule (five fields)")
    minutes, hours, doms, months, dows = (_field(f, lo, hi, schedule) for f, (lo, hi) in zip(fields, RANGES))
    dows = {d % 7 for d in dows}  # 7 is Sunday too
    dom_any, dow_any = fields[2] == "*", fields[4] == "*"
    if dom_any and dow_any and len(months) == 12:
        return float(len(minutes) * len(hours))
    days = 0
    for ordinal in range(CYCLE_START, CYCLE_START + CYCLE_DAYS):
        day = dt.date.fromordinal(ordinal)
        if day.month not in months:
            continue
        in_dom, in_dow = day.day in doms, (day.isoweekday() % 7) in dows
        if (in_dom and in_dow) if dom_any or dow_any else (in_dom or in_dow):
            days += 1
    return len(minutes) * len(hours) * days / CYCLE_DAYS


def _field(text: str, lo: int, hi: int, schedule: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ToolkitError(f"{schedule!r}: bad step {step_text!r}")
            step = int(step_text)
        if part == "*":
            first, last = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _number(a, schedule), _number(b, schedule)
        else:
            first = _number(part, schedule)
            last = hi if step > 1 else first
        if not lo <= first <= last <= hi:
            raise ToolkitError(f"{schedule!r}: {part!r} is outside {lo}-{hi}")
        values.update(range(first, last + 1, step))
    return values


def _number(text: str, schedule: str) -> int:
    if not text.isdigit():
        raise ToolkitError(f"{schedule!r}: {text!r} is not a number (names of days and months are not supported)")
    return int(text)
