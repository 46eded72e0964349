"""LOCAL ONLY: the stack the frontend module's tests run against, never a hosted project.

A scratch database on the local cluster gets what a hosted project's platform provides
(the compatibility layer), the example app's data tables, and the phases the frontend phase
requires, deployed from the plan with two differences, both for the tests' sake:
- the subscription TTL is TEST_TTL_SECONDS, so that re-tracking shows within seconds (the
  module under test is rendered with the same TTL; the workspace copy keeps the plan's);
- steps that need pg_cron are left out: pg_cron lives in one database per cluster, and the
  tests need the functions' SQL, not the schedules.
Then the Realtime stand-in and the functions gateway (which fronts /realtime/v1 and
/rest/v1/rpc too) start on free ports with a secret of their own. Everything is removed after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from toolkit.config import LoadedPlan, Plan
from toolkit.dev.jwt import mint_jwt

if TYPE_CHECKING:
    from toolkit.dev.local.cluster import LocalCluster
    from toolkit.frontend import TestRun

TEST_TTL_SECONDS = 6
NEEDS_PG_CRON = frozenset({"cron_jobs"})
ACTOR = "frontend tests"


@dataclass(frozen=True)
class Stack:
    url: str            # the project URL: /functions/v1, /rest/v1/rpc, /realtime/v1
    anon_key: str
    secret: str
    db_url: str
    plan: Plan          # the plan as deployed on the scratch database

    @property
    def env(self) -> dict[str, str]:
        return {"SUPABASE_URL": self.url, "SUPABASE_ANON_KEY": self.anon_key, "JWT_SECRET": self.secret,
                "SUPABASE_DB_URL": self.db_url}


def required_phases(plan: Plan, phase_id: int) -> list[int]:
    """Every phase `phase_id` requires, directly or through others, in order."""
    found: set[int] = set()
    todo = list(plan.phase(phase_id).requires)
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo.extend(plan.phase(p).requires)
    return sorted(found)


def plan_for_tests(loaded: LoadedPlan) -> LoadedPlan:
    plan = loaded.plan
    staleness = plan.settings.staleness.model_copy(update={"subscription_ttl_seconds": TEST_TTL_SECONDS})
    settings = plan.settings.model_copy(update={"staleness": staleness})
    phases = [p.model_copy(update={"steps": [s for s in p.steps if s.id not in NEEDS_PG_CRON]}) for p in plan.phases]
    return LoadedPlan(plan.model_copy(update={"settings": settings, "phases": phases}), loaded.path, loaded.templates)


@contextmanager
def local_stack(cluster: "LocalCluster", loaded: LoadedPlan, phase_id: int, example: Path | None) -> Iterator[Stack]:
    """The stack for testing phase `phase_id`'s module, on `cluster` (which must be running)."""
    from toolkit.db import target_from_url
    from toolkit.dev import gateway, realtime
    from toolkit.engine import Engine

    variant = plan_for_tests(loaded)
    name = f"toolkit_frontend_{os.getpid()}_{secrets.token_hex(3)}"
    cluster.create_database(name)
    try:
        cluster.bootstrap_database(name, example=example)
        url = cluster.conninfo(name)
        Engine(variant, target_from_url(url), ACTOR).apply(required_phases(variant.plan, phase_id))
        secret = secrets.token_urlsafe(32)
        with realtime.start(secret) as rt, gateway.serve(url, names=variant.plan.names, port=None, jwt_secret=secret,
                                                         realtime_url=rt.url) as gw:
            yield Stack(url=gw.url, anon_key=mint_jwt(secret, role="anon", ttl=24 * 3600), secret=secret,
                        db_url=url, plan=variant.plan)
    finally:
        cluster.drop_database(name)


def run_module_tests(cluster: "LocalCluster", loaded: LoadedPlan, phase_id: int, example: Path | None) -> "TestRun":
    """Render the module for the test plan and run its tests against a fresh local stack."""
    from toolkit import frontend

    with local_stack(cluster, loaded, phase_id, example) as stack:
        folder = Path(tempfile.mkdtemp(prefix="frontend-test-"))
        try:
            build = frontend.render(frontend.source_dir(loaded), stack.plan, folder / "frontend")
            return frontend.run_tests(build, stack.env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
