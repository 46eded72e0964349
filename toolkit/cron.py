"""The pg_cron jobs on a target: the system's own and the legacy app's, with their last run."""

from __future__ import annotations

from toolkit import ledger
from toolkit.config import Plan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.names import CRON_JOBS
from toolkit.queries import query


def list_jobs(plan: Plan, target: Target) -> list[dict]:
    legacy = {d.legacy_job: d.name for d in plan.data_types}
    own = {plan.names.cron_job(j) for j in CRON_JOBS}
    with connect(target, autocommit=True) as conn, database_errors():
        if not ledger.exists(conn, "cron.job"):
            raise ToolkitError(f"pg_cron is not installed on {target.describe()}",
                               hint="on Supabase enable it under Database > Extensions; locally install postgresql-15-cron")
        cur = conn.execute(query("cron_jobs"))
        names = [c.name for c in cur.description]
        jobs = [dict(zip(names, row)) for row in cur.fetchall()]
    for job in jobs:
        name = job["jobname"] or ""
        if name in legacy:
            job["owner"] = f"legacy ({legacy[name]})"
        elif name in own:
            job["owner"] = "refresh system"
        else:
            job["owner"] = "other"
    return jobs
