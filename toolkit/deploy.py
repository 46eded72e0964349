"""The Edge Functions of a rollout: deployed to a project through the Management API (or
served by the local gateway), recorded in toolkit.edge_deployments, verified, listed next to
what the templates would deploy (drift), and removed.

What is uploaded is the plan's rendered build (toolkit.edge.render: slugs with the suffix,
`_shared/names.ts` for the plan); a record says exactly what runs where: it is written only
after the platform accepted a deploy, and removed only after it deleted the function.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import __version__, edge, ledger
from toolkit.errors import ToolkitError
from toolkit.queries import query

if TYPE_CHECKING:
    import psycopg

    from toolkit.config import LoadedPlan, Phase, Plan, Step
    from toolkit.db import Target
    from toolkit.management import ManagementApi, Project

FILE = "edge.sql"
LOCAL = "local"
HEALTH_CHECK = "health-check"
VERIFY_WAIT_S = 30.0      # a hosted function can take a few seconds to answer after a deploy
PROBE_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------------------------
# What the plan deploys

@dataclass(frozen=True)
class EdgeItem:
    phase: int
    step: str
    base: str     # the folder under templates/edge


def edge_steps(plan: "Plan", phase: "Phase") -> list["Step"]:
    """The phase's edge steps that are built and belong to the plan's scheduler mode."""
    return [s for s in phase.steps if s.kind == "edge" and s.available and s.applies(plan.settings)]


def items(plan: "Plan", phases: list["Phase"] | None = None) -> list[EdgeItem]:
    return [EdgeItem(p.id, s.id, s.edge or "") for p in (phases or plan.phases) for s in edge_steps(plan, p)]


class Build:
    """The plan's functions rendered into a temporary folder, bundled on demand."""

    def __init__(self, loaded: "LoadedPlan"):
        from toolkit.final import moved_functions

        self.source = loaded.templates / "edge"
        self.names = loaded.plan.names
        # After Phase 6 renamed the functions: old slug -> new, each a function of its own that
        # tells callers where the function went (templates/edge/_shared/moved.ts).
        self.moved = moved_functions(loaded.plan)
        self._tmp = Path(tempfile.mkdtemp(prefix="edge-deploy-"))
        self.folder = edge.render(self.source, self.names, self._tmp / "functions", self.moved)
        self._bundles: dict[str, edge.Bundle] = {}

    def settings(self, base: str) -> edge.FunctionSettings:
        return edge.function_settings(self.source, base)

    def bundle(self, base: str) -> edge.Bundle:
        if base not in self._bundles:
            self._bundles[base] = edge.bundle(self.folder, self.names.slug(base), self.settings(base).verify_jwt)
        return self._bundles[base]

    def moved_bundle(self, old_slug: str) -> edge.Bundle:
        """The pointer deployed under a slug Phase 6 renamed (it answers without a token)."""
        return edge.bundle(self.folder, old_slug, verify_jwt=False)

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "Build":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rendered_hashes(loaded: "LoadedPlan") -> dict[str, str]:
    """slug -> content hash of every function the plan's edge steps name (for the states)."""
    wanted = {i.base for i in items(loaded.plan)}
    if not wanted:
        return {}
    with Build(loaded) as build:
        return {build.bundle(b).slug: build.bundle(b).content_hash for b in sorted(wanted)}


# ---------------------------------------------------------------------------------------------
# The records

@dataclass(frozen=True)
class Record:
    slug: str
    phase: int
    step: str
    version: int | None
    content_hash: str
    verify_jwt: bool
    deployed_by: str
    deployed_at: datetime
    verified_at: datetime | None
    verify_ok: bool | None
    verify_message: str | None


def records(conn: "psycopg.Connection", place: str) -> dict[str, Record]:
    if not ledger.exists(conn, "toolkit.edge_deployments"):
        return {}
    return {r[0]: Record(*r) for r in conn.execute(query("records", FILE), {"place": place})}


@dataclass(frozen=True)
class EdgeFacts:
    """What the state classifier needs about a target's functions."""

    records: dict[str, Record]        # slug -> what is deployed (at the target's place)
    hashes: dict[str, str]            # slug -> what the templates would deploy
    names: object                     # toolkit.names.Names, to turn a step's folder into its slug
    place: str = LOCAL

    def slug(self, base: str) -> str:
        return self.names.slug(base)  # type: ignore[attr-defined]


def facts(conn: "psycopg.Connection", loaded: "LoadedPlan", place: str) -> EdgeFacts:
    return EdgeFacts(records(conn, place), rendered_hashes(loaded), loaded.plan.names, place)


# ---------------------------------------------------------------------------------------------
# Where functions go

class Served:
    """A place that runs functions: a hosted project, or the local gateway."""

    place: str = LOCAL
    remote: bool = False

    def describe(self) -> str:
        raise NotImplementedError

    def deploy(self, bundle: edge.Bundle) -> int | None:
        """Make the place run `bundle`; its version there (None: the place has no versions)."""
        raise NotImplementedError

    def remove(self, slug: str) -> bool:
        raise NotImplementedError

    def check(self, bundle: edge.Bundle, record: Record | None) -> str | None:
        """What is wrong with the function as it runs there, or None."""
        raise NotImplementedError

    def missing_secrets(self, needed: set[str]) -> set[str]:
        return set()

    def close(self) -> None:
        pass


class HostedFunctions(Served):
    remote = True

    def __init__(self, project: "Project", api: "ManagementApi | None" = None):
        self.project = project
        self.place = project.ref
        self._api = api

    @property
    def api(self) -> "ManagementApi":
        if self._api is None:
            from toolkit.management import ManagementApi

            self._api = ManagementApi(self.project)
        return self._api

    def describe(self) -> str:
        return self.project.describe()

    def deploy(self, bundle: edge.Bundle) -> int | None:
        return int(self.api.deploy_function(bundle.slug, bundle.metadata, bundle.files)["version"])

    def remove(self, slug: str) -> bool:
        return self.api.delete_function(slug)

    def check(self, bundle: edge.Bundle, record: Record | None) -> str | None:
        fn = self.api.get_function(bundle.slug)
        if fn is None:
            return f"{bundle.slug} is not deployed on project {self.project.ref}"
        if fn.get("status") != "ACTIVE":
            return f"{bundle.slug} is {fn.get('status')}, not ACTIVE"
        if fn.get("verify_jwt") is not bundle.verify_jwt:
            return f"{bundle.slug} runs with verify_jwt {fn.get('verify_jwt')}; its config.json says {bundle.verify_jwt}"
        if record is not None and record.version is not None and fn.get("version") != record.version:
            return (f"{bundle.slug} is at version {fn.get('version')} on the project, the toolkit deployed "
                    f"version {record.version} (deployed by something else since?)")
        return probe(self.project.functions_url, bundle, wait=VERIFY_WAIT_S)

    def missing_secrets(self, needed: set[str]) -> set[str]:
        if not needed:
            return set()
        return needed - {s["name"] for s in self.api.list_secrets()}

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


class LocalGateway(Served):
    """The local stack's functions: the gateway serves the templates as they are, so a deploy
    uploads nothing; a check starts a gateway on the target database (once) and probes it."""

    def __init__(self, db_url: str, loaded: "LoadedPlan"):
        self.db_url = db_url
        self.loaded = loaded
        self._server = None

    def describe(self) -> str:
        return "the local functions gateway"

    def deploy(self, bundle: edge.Bundle) -> int | None:
        return None

    def remove(self, slug: str) -> bool:
        return True

    def check(self, bundle: edge.Bundle, record: Record | None) -> str | None:
        return probe(self.server().functions_url, bundle, wait=0)

    def server(self):
        if self._server is None:
            import secrets

            from toolkit.dev import gateway

            # A secret of its own: the probe needs no token, and nothing else talks to it.
            self._server = gateway.serve(self.db_url, names=self.loaded.plan.names, port=None,
                                         jwt_secret=secrets.token_urlsafe(32),
                                         market_data_url=self.loaded.plan.settings.market_data_base_url,
                                         folder=self.loaded.templates / "edge")
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def served_for(target: "Target", loaded: "LoadedPlan") -> Served:
    if target.functions is not None:
        return HostedFunctions(target.functions)
    return LocalGateway(target.conninfo, loaded)


def probe(functions_url: str, bundle: edge.Bundle, wait: float) -> str | None:
    """A function answers as configured: without a token, 401 exactly when verify_jwt; the
    health check 200 with {"status": "ok"}. Tried again for up to `wait` seconds."""
    import httpx

    url = f"{functions_url}/{bundle.slug}"
    deadline = time.monotonic() + wait
    while True:
        problem = _probe_once(httpx, url, bundle)
        if problem is None or time.monotonic() >= deadline:
            return problem
        time.sleep(1.0)


def _probe_once(httpx, url: str, bundle: edge.Bundle) -> str | None:
    health = bundle.slug == HEALTH_CHECK
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT_S, trust_env=False) as client:
            r = client.get(url) if health else client.post(url, json={})
    except httpx.HTTPError as exc:
        return f"{url} did not answer ({type(exc).__name__})"
    if bundle.verify_jwt:
        return None if r.status_code == 401 else f"{url} answered {r.status_code} without a token; expected 401 (verify_jwt)"
    if r.status_code == 401:
        return f"{url} asks for a token; its config.json says verify_jwt false"
    if health:
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code != 200 or not isinstance(body, dict) or body.get("status") != "ok":
            detail = body.get("problems") if isinstance(body, dict) else r.text[:200]
            return f"{url} answered {r.status_code} {detail or ''}".strip()
    return None


# ---------------------------------------------------------------------------------------------
# Deploy, verify, remove

@dataclass
class Outcome:
    slug: str
    phase: int
    step: str
    result: str                  # deployed | served | failed | verified | verify failed | removed | ...
    version: int | None = None
    message: str = ""
    ok: bool = True

    def row(self) -> dict:
        return {"function": self.slug, "phase": self.phase, "step": self.step, "result": self.result,
                "version": self.version, "message": self.message}


@dataclass
class Deployer:
    conn: "psycopg.Connection"
    build: Build
    served: Served
    actor: str
    warnings: list[str] = field(default_factory=list)

    def deploy(self, todo: list[EdgeItem], verify: bool = True) -> list[Outcome]:
        """Deploy each function, record each success at once, then verify it; a failure is
        reported for its function and the others still go."""
        self._warn_missing_secrets(todo)
        outcomes = []
        for item in todo:
            bundle = self.build.bundle(item.base)
            try:
                version = self.served.deploy(bundle)
            except ToolkitError as exc:
                outcomes.append(Outcome(bundle.slug, item.phase, item.step, "failed", message=exc.message, ok=False))
                ledger.history(self.conn, action="apply", phase=item.phase, step=item.step, actor=self.actor,
                               ok=False, detail=f"edge {bundle.slug} on {self.served.place}: {exc.message}")
                continue
            self._record(item, bundle, version)
            outcome = Outcome(bundle.slug, item.phase, item.step, "deployed" if self.served.remote else "served",
                              version=version)
            if verify:
                problem = self.check(item, bundle)
                if problem:
                    outcome.result, outcome.message, outcome.ok = "verify failed", problem, False
            outcomes.append(outcome)
        return outcomes

    def _record(self, item: EdgeItem, bundle: edge.Bundle, version: int | None) -> None:
        with self.conn.transaction():
            self.conn.execute(query("record", FILE), {
                "place": self.served.place, "slug": bundle.slug, "phase": item.phase, "step": item.step,
                "version": version, "content_hash": bundle.content_hash, "verify_jwt": bundle.verify_jwt,
                "actor": self.actor, "toolkit_version": __version__})
            ledger.history(self.conn, action="apply", phase=item.phase, step=item.step, checksum=bundle.content_hash,
                           actor=self.actor, ok=True,
                           detail=f"edge {bundle.slug} on {self.served.place}" + (f" version {version}" if version else ""))

    def check(self, item: EdgeItem, bundle: edge.Bundle | None = None) -> str | None:
        """Verify one function where it runs and record the result."""
        bundle = bundle or self.build.bundle(item.base)
        record = records(self.conn, self.served.place).get(bundle.slug)
        if record is None:
            return f"{bundle.slug} is not deployed"
        try:
            problem = self.served.check(bundle, record)
        except ToolkitError as exc:
            problem = exc.message
        if problem is None and record.content_hash != bundle.content_hash:
            problem = f"{bundle.slug} changed since it was deployed (drift): `toolkit edge deploy {bundle.slug}` redeploys it"
        with self.conn.transaction():
            self.conn.execute(query("mark_verified", FILE), {"place": self.served.place, "slug": bundle.slug,
                                                             "ok": problem is None, "message": problem})
            ledger.history(self.conn, action="verify", phase=item.phase, step=item.step, actor=self.actor,
                           ok=problem is None, detail=f"edge {bundle.slug} on {self.served.place}" +
                           (f": {problem}" if problem else ""))
        return problem

    def point_moved(self, items_by_base: dict[str, EdgeItem]) -> list[Outcome]:
        """After Phase 6's rename: deploy under each old slug the pointer to its new one (a hosted
        project; the local gateway serves them itself), recorded like the function it stands for."""
        outcomes = []
        if not self.served.remote:
            return outcomes
        for old, new in self.build.moved.items():
            item = next((i for b, i in items_by_base.items() if self.build.names.slug(b) == new), None)
            if item is None:
                continue
            bundle = self.build.moved_bundle(old)
            try:
                version = self.served.deploy(bundle)
            except ToolkitError as exc:
                outcomes.append(Outcome(old, item.phase, item.step, "failed", message=exc.message, ok=False))
                continue
            self._record(item, bundle, version)
            outcomes.append(Outcome(old, item.phase, item.step, f"now points to {new}", version=version))
        return outcomes

    def remove_slug(self, slug: str, item: EdgeItem) -> Outcome:
        """Remove a function by its slug (one a plan no longer names: before or after Phase 6)."""
        existed = self.served.remove(slug)
        with self.conn.transaction():
            self.conn.execute(query("forget", FILE), {"place": self.served.place, "slug": slug})
            ledger.history(self.conn, action="revert", phase=item.phase, step=item.step, actor=self.actor, ok=True,
                           detail=f"edge {slug} removed from {self.served.place}")
        return Outcome(slug, item.phase, item.step, "removed" if existed else "was not deployed")

    def remove(self, item: EdgeItem) -> Outcome:
        return self.remove_slug(self.build.names.slug(item.base), item)

    def _warn_missing_secrets(self, todo: list[EdgeItem]) -> None:
        needed = {s for item in todo for s in self.build.settings(item.base).secrets}
        missing = self.served.missing_secrets(needed)
        for item in todo:
            lacking = sorted(set(self.build.settings(item.base).secrets) & missing)
            if lacking:
                self.warnings.append(f"{self.build.names.slug(item.base)} needs secret(s) not set on "
                                     f"{self.served.describe()}: {', '.join(lacking)} "
                                     f"(toolkit secrets set NAME --stdin)")


# ---------------------------------------------------------------------------------------------
# What is deployed, next to what would be

def listing(conn: "psycopg.Connection", loaded: "LoadedPlan", served: Served) -> list[dict]:
    """One row per function of the plan (and per function the project runs that the plan does
    not name): the record, the place's own view, and the state (applied / drift / new)."""
    from toolkit.states import APPLIED, DRIFT, NEW

    recs = records(conn, served.place)
    remote = {f["slug"]: f for f in served.api.list_functions()} if isinstance(served, HostedFunctions) else {}
    rows = []
    with Build(loaded) as build:
        for item in items(loaded.plan):
            bundle = build.bundle(item.base)
            rec, live = recs.get(bundle.slug), remote.pop(bundle.slug, None)
            reasons = []
            if rec is not None and rec.content_hash != bundle.content_hash:
                reasons.append("the templates changed since it was deployed")
            if isinstance(served, HostedFunctions) and rec is not None:
                if live is None:
                    reasons.append("recorded as deployed, but the project does not run it")
                elif rec.version is not None and live.get("version") != rec.version:
                    reasons.append(f"version {live.get('version')} runs, the toolkit deployed {rec.version}")
                elif live.get("verify_jwt") is not bundle.verify_jwt:
                    reasons.append(f"verify_jwt is {live.get('verify_jwt')} there, {bundle.verify_jwt} in config.json")
            state = NEW if rec is None else DRIFT if reasons else APPLIED
            rows.append(_row(bundle.slug, item, state, rec, live, reasons, bundle.content_hash))
    for slug, live in sorted(remote.items()):
        rows.append(_row(slug, None, "not in the plan", None, live, [], None))
    return rows


def _row(slug, item, state, rec, live, reasons, content_hash) -> dict:
    return {
        "function": slug, "phase": item.phase if item else None, "step": item.step if item else None,
        "state": state, "drift": reasons,
        "recorded_version": rec.version if rec else None,
        "recorded_hash": rec.content_hash[:12] if rec else None,
        "template_hash": content_hash[:12] if content_hash else None,
        "deployed_at": rec.deployed_at.isoformat(timespec="seconds") if rec else None,
        "verified": rec.verify_ok if rec else None,
        "version": live.get("version") if live else None,
        "status": live.get("status") if live else None,
        "verify_jwt": live.get("verify_jwt") if live else (rec.verify_jwt if rec else None),
        "updated_at": live.get("updated_at") if live else None,
    }
