"""The apply engine: plan, apply, verify and revert phases against a target database."""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from toolkit import catalog, ledger
from toolkit.config import LoadedPlan, Phase
from toolkit.db import Target, connect, sql_error_message
from toolkit.errors import CheckFailed, ToolkitError
from toolkit.final import PHASE as FINAL_PHASE
from toolkit.final import Deployed, unmet_gates
from toolkit.queries import query
from toolkit.render import RenderedStep, Renderer, Transition
from toolkit.states import (DEPLOYED, DEPLOYED_KINDS, DOC_CURRENT, DOC_MISSING, DOC_STATES, DRIFT, MANUAL, NEW,
                            NOT_APPLICABLE, NOT_AVAILABLE, OTHER, UPGRADABLE, StepState, deployable, deployment,
                            phase_states, recorded)

if TYPE_CHECKING:
    import psycopg

    from toolkit.deploy import Build, EdgeFacts, Served
    from toolkit.dev.local.cluster import LocalCluster


def _lost(conn: "psycopg.Connection") -> bool:
    """Whether the connection itself is gone (a killed backend, a server restart, the network),
    rather than a statement having failed on it."""
    return conn.broken or conn.closed


@contextmanager
def _connection_kept(conn: "psycopg.Connection", target: Target, doing: str) -> Iterator[None]:
    """A lost connection as one clear message. The server rolls back a transaction it did not
    commit, so a phase is applied entirely or not at all; only a loss during the COMMIT itself
    leaves open which, and the ledger tells."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        if not _lost(conn):
            raise
        reason = sql_error_message(exc).split(" [SQLSTATE")[0].removeprefix("consuming input failed: ")
        raise ToolkitError(
            f"lost the connection to {target.describe()} while {doing} ({reason}); the server rolls back "
            "what was not committed",
            hint="check the database is up (`toolkit status` shows what the ledger holds), then run the command again",
        ) from None


@dataclass
class PhaseReport:
    phase: int
    title: str
    result: str
    steps: list[dict] = field(default_factory=list)
    sql: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    # Edge Functions that could not be deployed (exit 2) or did not verify (exit 1).
    failed_deploys: list[str] = field(default_factory=list)
    failed_verifies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Engine:
    def __init__(self, loaded: LoadedPlan, target: Target, actor: str, served: "Served | None" = None, *,
                 workspace: Path | None = None, cluster: "LocalCluster | None" = None):
        self.loaded = loaded
        self.plan = loaded.plan
        self.target = target
        self.actor = actor
        self.renderer = Renderer(loaded)
        self._served = served
        self._build: "Build | None" = None
        # The workspace (when given): where frontend steps render their module and the doc steps'
        # documents live (without one, the documents are not looked at).
        self.docs_root = workspace
        self.workspace = workspace or loaded.path.parent
        self._cluster = cluster
        self._doc_states: dict | None = None

    def _at(self, done: dict) -> None:
        """Address what the ledger says is deployed (after Phase 6: base names, no flag checks):
        the plan, its renderer and the functions' builds follow it."""
        self._doc_states = None
        deployed = Deployed.from_steps(done)
        if deployed != self.plan.deployed:
            self.close()
            self._served = None
            self.__dict__.pop("_edge_hashes", None)
            self.loaded = LoadedPlan(self.loaded.plan.as_deployed(deployed), self.loaded.path, self.loaded.templates)
            self.plan = self.loaded.plan
        if deployed != self.renderer.deployed:
            self.renderer = Renderer(self.loaded, deployed)

    # -- reading --------------------------------------------------------------------------
    def step_states(self, conn: "psycopg.Connection", phase: Phase, done: dict | None = None,
                    objects: "catalog.Objects | None" = None) -> list[StepState]:
        """The phase's steps classified; `objects`: the catalog fingerprint (read here when
        any of the phase's entries has one to compare with)."""
        done = ledger.entries(conn) if done is None else done
        self._at(done)
        if objects is None and any(e.objects for (p, _), e in done.items() if p == phase.id):
            objects = catalog.objects(conn)
        return phase_states(phase, done, self.renderer, self.plan.settings, objects, edge=self.edge_facts(conn),
                            docs=self._docs(conn, phase))

    def _docs(self, conn, phase: Phase) -> dict | None:
        """The documents' states, when the phase has doc steps and the engine knows the workspace."""
        if self.docs_root is None or not any(s.kind == "doc" and s.available for s in phase.steps):
            return None
        if self._doc_states is None:
            from toolkit.docs import Documents

            states = Documents(self.loaded, self.target, self.docs_root).states(conn)
            self._doc_states = {name: (d.state, d.note) for name, d in states.items()}
        return self._doc_states

    # -- Edge Functions -------------------------------------------------------------------
    @cached_property
    def _edge_hashes(self) -> dict[str, str]:
        from toolkit.deploy import rendered_hashes

        return rendered_hashes(self.loaded)

    def edge_facts(self, conn: "psycopg.Connection") -> "EdgeFacts":
        from toolkit.deploy import EdgeFacts, records

        return EdgeFacts(records(conn, self.target.place), self._edge_hashes, self.plan.names, self.target.place)

    @property
    def served(self) -> "Served":
        if self._served is None:
            from toolkit.deploy import served_for

            self._served = served_for(self.target, self.loaded)
        return self._served

    def _deployer(self, conn):
        from toolkit.deploy import Build, Deployer

        if self._build is None:
            self._build = Build(self.loaded)
        return Deployer(conn, self._build, self.served, self.actor)

    def close(self) -> None:
        """Stop what the edge steps started (a local gateway) and remove the build."""
        if self._build is not None:
            self._build.close()
            self._build = None
        if self._served is not None:
            self._served.close()

    def _edge_after_sql(self, conn, phase: Phase, report: PhaseReport) -> None:
        """Once a phase's SQL committed: deploy its functions that are not deployed yet, each
        recorded as soon as the platform took it, then verified."""
        from toolkit.deploy import EdgeItem, edge_steps

        states = {s.step: s for s in self.step_states(conn, phase)}
        if any(states[s.id].state == NEW for s in self.plan.deployable(phase)):
            return  # the SQL is not all there (nothing applied): no functions without their tables
        steps = edge_steps(self.plan, phase)
        todo = [EdgeItem(phase.id, s.id, s.edge or "") for s in steps if states[s.id].state == NEW]
        for s in steps:
            if states[s.id].state == DRIFT:
                report.steps.append({"step": s.id, "result": states[s.id].note})
        if not todo:
            return
        deployer = self._deployer(conn)
        for o in deployer.deploy(todo):
            text = o.result + (f" (version {o.version})" if o.version else "") + (f": {o.message}" if o.message else "")
            report.steps.append({"step": o.step, "function": o.slug, "result": text})
            if o.result == "failed":
                report.failed_deploys.append(f"{o.slug}: {o.message}")
            elif not o.ok:
                report.failed_verifies.append(f"{o.slug}: {o.message}")
        report.warnings.extend(deployer.warnings)
        if report.result in ("already applied", "nothing to deploy yet"):
            report.result = "applied"

    def edge_items(self, conn, names: list[str]) -> list:
        """The named functions (base name or slug), or every function of the phases whose SQL is
        applied; a function whose phase is not applied is refused (its tables are missing)."""
        from toolkit.deploy import items

        done = ledger.entries(conn)
        applied = {p.id for p in self.plan.phases if all((p.id, s.id) in done for s in self.plan.deployable(p))}
        known = items(self.plan)
        if not names:
            return [i for i in known if i.phase in applied]
        chosen = []
        for name in names:
            item = next((i for i in known if name in (i.base, self.plan.names.slug(i.base))), None)
            if item is None:
                raise ToolkitError(f"{name!r} is not a function of the plan's edge steps",
                                   hint="known: " + ", ".join(self.plan.names.slug(i.base) for i in known))
            if item.phase not in applied:
                raise ToolkitError(f"{name} belongs to phase {item.phase}, whose SQL is not applied",
                                   hint=f"`toolkit phase apply {item.phase}` applies it and deploys its functions")
            chosen.append(item)
        return chosen

    def deploy_edges(self, names: list[str], verify: bool = True) -> tuple[list, list[str]]:
        """`toolkit edge deploy`: (outcomes, warnings)."""
        with connect(self.target, autocommit=True) as conn:
            with self._apply_lock(conn):
                ledger.install(conn)
                self._at(ledger.entries(conn))
                todo = self.edge_items(conn, names)
                try:
                    deployer = self._deployer(conn)
                    return deployer.deploy(todo, verify=verify), deployer.warnings
                finally:
                    self.close()

    def remove_edges(self, names: list[str]) -> list:
        """`toolkit edge delete`: each named function removed from where it runs, its record with it."""
        from toolkit.deploy import items

        known = items(self.plan)
        todo = []
        for name in names:
            item = next((i for i in known if name in (i.base, self.plan.names.slug(i.base))), None)
            if item is None:
                raise ToolkitError(f"{name!r} is not a function of the plan's edge steps")
            todo.append(item)
        with connect(self.target, autocommit=True) as conn:
            with self._apply_lock(conn):
                ledger.install(conn)
                self._at(ledger.entries(conn))
                try:
                    deployer = self._deployer(conn)
                    return [deployer.remove(i) for i in todo]
                finally:
                    self.close()

    def plan_phase(self, phase_id: int) -> list[StepState]:
        """Each step's state, and for an upgradable one the scripts `phase upgrade` would run."""
        phase = self.plan.phase(phase_id)
        with connect(self.target, autocommit=True) as conn:
            states = self.step_states(conn, phase)
        return [dataclasses.replace(s, upgrade=tuple(label for t in self._upgrades(phase, s) for label, _ in t.scripts)
                                    or ("nothing to run: the revisions change no object",))
                if s.state == UPGRADABLE else s for s in states]

    def _upgrades(self, phase: Phase, state: StepState) -> list[Transition]:
        step = phase.step(state.step)
        return [self.renderer.upgrade(phase, step, k) for k in range((state.revision or 1) + 1, step.revision + 1)]

    def status(self) -> dict:
        with connect(self.target, autocommit=True) as conn:
            info = conn.execute(query("server_info")).fetchone()
            done = ledger.entries(conn)
            objects = catalog.objects(conn) if any(e.objects for e in done.values()) else None
            phases = []
            for phase in self.plan.phases:
                states = self.step_states(conn, phase, done, objects)
                to_deploy = deployable(states)
                applied = [s for s in to_deploy if s.state in DEPLOYED]
                phases.append({
                    "phase": phase.id,
                    "title": phase.title,
                    "state": deployment(states),
                    "applied": len(applied),
                    "deployable": len(to_deploy),
                    "upgradable": sum(s.state == UPGRADABLE for s in states),
                    "drift": sum(s.state == DRIFT for s in states),
                    "verified": all(s.verified for s in applied) if applied else None,
                    "not_available": sum(s.state == NOT_AVAILABLE for s in states),
                    "not_applicable": sum(s.state == NOT_APPLICABLE for s in states),
                    "manual": sum(s.state == MANUAL for s in states),
                })
        return {
            "target": self.target.describe(),
            "server_version": info[0],
            "database": info[1],
            "user": info[2],
            "superuser": info[5],
            "pg_cron": info[3],
            "pg_net": info[4],
            "phases": phases,
        }

    # -- the apply lock ----------------------------------------------------------------------
    @contextmanager
    def _apply_lock(self, conn: "psycopg.Connection") -> Iterator[None]:
        key = self.plan.settings.locks.apply
        deadline = time.monotonic() + self.plan.settings.timeouts.apply_lock_wait_seconds
        while not conn.execute(query("try_apply_lock"), {"key": key}).fetchone()[0]:
            if time.monotonic() >= deadline:
                holder = conn.execute(query("apply_lock_holder"), {"key": key}).fetchone()
                who = (f"backend pid {holder[0]} ({holder[1] or 'unnamed'}, user {holder[2]}, "
                       f"connected {holder[4]:%H:%M:%S})") if holder else "another session"
                raise ToolkitError(
                    f"another toolkit run holds the apply lock on {self.target.describe()}: {who}",
                    hint="wait for it to finish, then run the command again",
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute(query("release_apply_lock"), {"key": key})

    def _session(self, conn: "psycopg.Connection", drop_data: bool = False, is_local: bool = True) -> None:
        timeouts = self.plan.settings.timeouts
        conn.execute(query("step_session"), {
            "lock_timeout": timeouts.lock_timeout,
            "statement_timeout": timeouts.statement_timeout,
            "params": self.renderer.params(drop_data=drop_data),
            "actor": self.actor,
            "is_local": is_local,
        })

    # -- apply ----------------------------------------------------------------------------
    def _check_requires(self, conn, phase: Phase, done: dict, force: bool, reason: str | None) -> str | None:
        missing, older = [], []
        for req in phase.requires:
            needed = self.plan.deployable(self.plan.phase(req))
            lacking = [s.id for s in needed if (req, s.id) not in done]
            if lacking:
                missing.append(f"phase {req} ({', '.join(lacking)} not applied)")
            behind = [s.step for s in self.step_states(conn, self.plan.phase(req), done) if s.state == UPGRADABLE]
            if behind:
                older.append(req)
                missing.append(f"phase {req} at its newest revisions ({', '.join(behind)} are older)")
        missing += unmet_gates(self.plan, phase.id, conn)
        if not missing:
            return None
        if not force:
            which = (str(older[0]) if len(older) == 1 else f"{older[0]}..{older[-1]}") if older else ""
            upgrade = f"`toolkit phase upgrade {which}` first; " if older else ""
            raise ToolkitError(
                f"phase {phase.id} requires {'; '.join(missing)}",
                hint=upgrade + "apply the required phases first (and, for the final migration, promote every type), "
                     "or pass --force --reason \"why\"",
            )
        if not reason:
            raise ToolkitError("--force needs --reason: the override is recorded in the history")
        return "; ".join(missing)

    def apply(self, phase_ids: list[int], *, force: bool = False, reason: str | None = None,
              dry_run: bool = False) -> list[PhaseReport]:
        reports: list[PhaseReport] = []
        with connect(self.target, autocommit=True) as conn, _connection_kept(conn, self.target, "applying"):
            if dry_run:
                done = ledger.entries(conn)
                self._at(done)
                for pid in phase_ids:
                    reports.append(self._dry_run(self.plan.phase(pid), done))
                return reports
            with self._apply_lock(conn):
                ledger.install(conn)
                try:
                    for pid in phase_ids:
                        phase = self.plan.phase(pid)
                        report = self._apply_phase(conn, phase, force, reason)
                        reports.append(report)
                        self._edge_after_sql(conn, phase, report)
                        if phase.id == FINAL_PHASE and report.result == "applied":
                            self._follow_final(conn, report)
                        if report.failed_deploys or report.failed_verifies:
                            break  # later phases wait until this one's functions run
                finally:
                    self.close()
        return reports

    def _dry_run(self, phase: Phase, done: dict) -> PhaseReport:
        report = PhaseReport(phase.id, phase.title, "dry run")
        for r in self.renderer.phase(phase):
            if (phase.id, r.step.id) not in done:
                report.sql.append({"step": r.step.id, "sql": r.deploy})
        if not report.sql:
            report.result = "nothing to apply"
        return report

    def _apply_phase(self, conn: "psycopg.Connection", phase: Phase, force: bool,
                     reason: str | None) -> PhaseReport:
        started = time.perf_counter()
        report = PhaseReport(phase.id, phase.title, "")
        done = ledger.entries(conn)
        states = self.step_states(conn, phase, done)
        by_state = {s.step: s for s in states}
        todo = [self.renderer.step(phase, s) for s in self.plan.deployable(phase) if by_state[s.id].state == NEW]
        unavailable = [s.id for s in phase.planned_steps]
        if not todo:
            report.result = "already applied" if self.plan.deployable(phase) else "nothing to deploy yet"
        else:
            override = self._check_requires(conn, phase, done, force, reason)
            self._run_steps(conn, phase, todo, override, reason, done)
            report.result = "applied"
        report.steps = [
            *({"step": r.step.id, "result": "applied", "revision": r.revision} for r in todo),
            *({"step": s.step, "result": f"upgradable ({s.note}): run `toolkit phase upgrade {phase.id}`"}
              for s in states if s.state == UPGRADABLE),
            *({"step": s.step, "result": f"drift: {s.note}"} for s in states if s.state == DRIFT),
            *({"step": s, "result": NOT_AVAILABLE} for s in unavailable),
            *({"step": s.step, "result": NOT_APPLICABLE} for s in states if s.state == NOT_APPLICABLE),
        ]
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _run_steps(self, conn, phase: Phase, todo: list[RenderedStep], override: str | None,
                   reason: str | None, done: dict) -> None:
        transactional = [r for r in todo if r.step.transaction]
        standalone = [r for r in todo if not r.step.transaction]
        # The module is tested and written out before the phase's transaction; only its
        # ledger rows and the evidence are recorded in it.
        tested = self._test_frontend(phase) if any(r.step.kind == "frontend" for r in todo) else None
        tracker = catalog.Tracker(conn, done)
        with conn.transaction():
            self._session(conn)
            if override:
                ledger.history(conn, action="force", phase=phase.id, actor=self.actor, ok=True,
                               detail=f"requires overridden ({override}); reason: {reason}")
            if tested is not None:
                self._record_frontend(conn, phase, tested)
            for r in transactional:
                with tracker.step((r.phase, r.step.id)):
                    self._deploy(conn, r)
            for r in transactional:
                self._verify_or_raise(conn, r)
            tracker.record()
        # Statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, ...) run one
        # by one afterwards; each is recorded only once it and its verify succeeded.
        for r in standalone:
            self._session(conn, is_local=False)
            with tracker.step((r.phase, r.step.id)):
                self._deploy(conn, r)
            with conn.transaction():
                self._session(conn)
                self._verify_or_raise(conn, r)
                tracker.record()

    # -- frontend steps ---------------------------------------------------------------------
    def local_cluster(self) -> "LocalCluster":
        """The running local cluster the frontend tests use (the workspace's, unless given)."""
        from toolkit.dev.local.cluster import LocalCluster
        from toolkit.project import Project

        cluster = self._cluster or LocalCluster(Project(root=self.workspace, plan_file=self.loaded.path).local_home)
        if cluster.pid() is None:
            raise ToolkitError("the frontend module's tests run against the local stack, and the local cluster is not running",
                               hint="start it with `toolkit local up`, then apply again")
        return cluster

    def _test_frontend(self, phase: Phase):
        """Test the module against the local stack; on success write it into the workspace."""
        from toolkit import frontend
        from toolkit.dev.frontend_stack import run_module_tests
        from toolkit.project import Project

        examples = Project(root=self.workspace, plan_file=self.loaded.path).examples / "legacy_app"
        run = run_module_tests(self.local_cluster(), self.loaded, phase.id, examples if examples.is_dir() else None)
        if not run.ok:
            raise CheckFailed(f"phase {phase.id}: the frontend module's tests failed ({run.summary()})\n{_tail(run.output)}",
                              hint="nothing of this phase was applied; the module was not written into the workspace")
        frontend.render(frontend.source_dir(self.loaded), self.plan, frontend.workspace_dir(self.workspace))
        return run

    def _record_frontend(self, conn, phase: Phase, run) -> None:
        from toolkit import frontend
        from toolkit.dev.frontend_stack import TEST_TTL_SECONDS

        checksum = next(r.checksum for r in self.renderer.phase(phase) if r.step.kind == "frontend")
        frontend.record_run(conn, run, phase=phase.id, checksum=checksum, actor=self.actor, detail=(
            f"deno test with the real @supabase/supabase-js against the local stack (functions gateway, Realtime "
            f"stand-in) on a scratch database with the phases before {phase.id} and a {TEST_TTL_SECONDS} s "
            f"subscription TTL; {run.summary()}"))

    def _deploy(self, conn, r: RenderedStep) -> None:
        import psycopg

        t0 = time.perf_counter()
        try:
            if r.step.kind != "frontend":  # a frontend step's module was written by _test_frontend
                conn.execute(r.deploy)
        except psycopg.Error as exc:
            if _lost(conn):
                raise  # not the step's fault: reported as a lost connection
            raise ToolkitError(
                f"phase {r.phase} step {r.step.id} failed: {sql_error_message(exc)}",
                hint="nothing of this phase was applied; fix the step and run apply again",
            ) from None
        ledger.record_applied(
            conn, phase=r.phase, step=r.step.id, revision=r.revision, checksum=r.checksum,
            template_hash=r.template_hash, actor=self.actor, duration_ms=int((time.perf_counter() - t0) * 1000),
        )
        ledger.history(conn, action="apply", phase=r.phase, step=r.step.id, revision=r.revision,
                       checksum=r.checksum, actor=self.actor, ok=True)

    def _verify_or_raise(self, conn, r: RenderedStep) -> None:
        problem = self._verify_one(conn, r)
        if problem:
            raise CheckFailed(
                f"phase {r.phase} step {r.step.id} did not verify after deploy: {problem}",
                hint="nothing of this phase was applied",
            )

    def _verify_one(self, conn, r: RenderedStep | str) -> str | None:
        """Run a verify script (a step's, or SQL text) inside a savepoint that is always rolled
        back (a frontend step: the workspace holds the module as rendered)."""
        import psycopg

        if isinstance(r, RenderedStep) and r.step.kind == "frontend":
            from toolkit.frontend import workspace_problem

            return workspace_problem(self.workspace, r.deploy)

        class _Undo(Exception):
            pass

        try:
            with conn.transaction():
                conn.execute(r if isinstance(r, str) else r.verify)
                raise _Undo
        except _Undo:
            return None
        except psycopg.Error as exc:
            if _lost(conn):
                raise
            return sql_error_message(exc)

    # -- upgrade --------------------------------------------------------------------------
    def upgrade(self, phase_ids: list[int], *, dry_run: bool = False) -> list[PhaseReport]:
        """Each applied step of each phase from the revision it records to the newest: per
        phase one transaction under the apply lock, verified before commit; rows are kept
        because tables change only through their upgrade scripts."""
        reports: list[PhaseReport] = []
        with connect(self.target, autocommit=True) as conn:
            if dry_run:
                done = ledger.entries(conn)
                for pid in phase_ids:
                    reports.append(self._upgrade_phase(conn, self.plan.phase(pid), done, dry_run=True))
                return reports
            with self._apply_lock(conn):
                ledger.install(conn)
                for pid in phase_ids:
                    reports.append(self._upgrade_phase(conn, self.plan.phase(pid), ledger.entries(conn)))
        return reports

    def _upgrade_phase(self, conn, phase: Phase, done: dict, dry_run: bool = False) -> PhaseReport:
        started = time.perf_counter()
        report = PhaseReport(phase.id, phase.title, "")
        states = self.step_states(conn, phase, done)
        todo = [s for s in states if s.state == UPGRADABLE]
        drift = [s for s in states if s.state == DRIFT]
        report.steps = [
            *({"step": s.step, "result": "upgraded" if not dry_run else "would upgrade", "from": s.revision,
               "to": s.newest} for s in todo),
            *({"step": s.step, "result": f"new: `toolkit phase apply {phase.id}` deploys it"}
              for s in states if s.state == NEW and any(e for (p, _), e in done.items() if p == phase.id)),
            *({"step": s.step, "result": f"drift: {s.note}"} for s in drift),
        ]
        if drift and todo:
            names = ", ".join(f"{s.step} ({s.note})" for s in drift)
            raise ToolkitError(f"phase {phase.id} has steps in drift: {names}; upgrade changes nothing in a phase "
                               f"whose database does not match what it recorded",
                               hint=f"see `toolkit phase plan {phase.id}`; restore the template or the objects first")
        standalone = [s.step for s in todo if not phase.step(s.step).transaction]
        if standalone:
            raise ToolkitError(f"phase {phase.id}: {', '.join(standalone)} run outside a transaction; "
                               f"upgrading such a step is not supported", hint="revert the phase and apply it again")
        if not todo:
            applied = any(p == phase.id for p, _ in done)
            report.result = "drift" if drift else "up to date" if applied else "not applied"
        elif dry_run:
            report.result = "dry run"
            for s in todo:
                for t in self._upgrades(phase, s):
                    report.sql.append({"step": s.step, "from": t.source, "to": t.target,
                                       "sql": t.sql or "-- nothing runs: the revision changes no object\n"})
        else:
            tracker = catalog.Tracker(conn, done)
            with conn.transaction():
                self._session(conn)
                newest = []
                for s in todo:
                    step = phase.step(s.step)
                    t0 = time.perf_counter()
                    with tracker.step((phase.id, step.id)):
                        for t in self._upgrades(phase, s):
                            self._transition(conn, t)
                    r = self.renderer.step(phase, step)
                    ledger.record_revised(conn, phase=phase.id, step=step.id, revision=r.revision, checksum=r.checksum,
                                          template_hash=r.template_hash, actor=self.actor,
                                          duration_ms=int((time.perf_counter() - t0) * 1000))
                    ledger.history(conn, action="upgrade", phase=phase.id, step=step.id, revision=r.revision,
                                   checksum=r.checksum, actor=self.actor, ok=True,
                                   detail=f"revision {s.revision} -> {r.revision}")
                    newest.append(r)
                for r in newest:
                    self._verify_or_raise(conn, r)
                self._verify_dependents(conn, phase, done, {r.step.id for r in newest})
                tracker.record()
            report.result = "upgraded"
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _verify_dependents(self, conn, phase: Phase, done: dict, upgraded: set[str]) -> None:
        """Every other applied step of this phase and the later ones, at the revision it
        records: an upgrade must not break what reads the objects it changed (a table's
        readers change in a later revision, expand then contract)."""
        for later in self.plan.phases[phase.id:]:
            for step in later.deployable_steps:
                entry = done.get((later.id, step.id))
                if entry is None or (later.id == phase.id and step.id in upgraded):
                    continue
                problem = self._verify_one(conn, recorded(later, step, entry, self.renderer))
                if problem:
                    raise CheckFailed(
                        f"upgrading phase {phase.id} breaks phase {later.id} step {step.id} (revision "
                        f"{entry.revision}): {problem}",
                        hint="nothing was changed; an upgrade keeps what reads its objects working "
                             "(change them in a later revision), see templates/README.md")

    def _transition(self, conn, t: Transition) -> None:
        """Run one revision's upgrade (or downgrade) scripts, then its own verify."""
        import psycopg

        for label, text in t.scripts:
            try:
                conn.execute(text)
            except psycopg.Error as exc:
                raise ToolkitError(
                    f"phase {t.phase} step {t.step.id}, revision {t.source} -> {t.target}: {label} failed: "
                    f"{sql_error_message(exc)}",
                    hint=f"nothing of phase {t.phase} was changed; fix the script and run the command again",
                ) from None
        if t.verify:
            problem = self._verify_one(conn, t.verify)
            if problem:
                raise CheckFailed(f"phase {t.phase} step {t.step.id}, revision {t.source} -> {t.target} did not "
                                  f"verify: {problem}", hint=f"nothing of phase {t.phase} was changed")

    def downgrade(self, phase_id: int, step_id: str) -> PhaseReport:
        """One step back one revision, by its down script, verified as the older revision."""
        phase = self.plan.phase(phase_id)
        step = next((s for s in phase.sql_steps if s.id == step_id), None)
        if step is None:
            raise ToolkitError(f"phase {phase_id} has no sql step {step_id!r}")
        started = time.perf_counter()
        with connect(self.target, autocommit=True) as conn:
            with self._apply_lock(conn):
                done = ledger.entries(conn)
                entry = done.get((phase_id, step_id))
                if entry is None:
                    raise ToolkitError(f"phase {phase_id} step {step_id} is not applied on {self.target.describe()}")
                state = next(s for s in self.step_states(conn, phase, done) if s.step == step_id)
                if state.state == DRIFT:
                    raise ToolkitError(f"phase {phase_id} step {step_id} is in drift ({state.note}); "
                                       f"it cannot go back a revision", hint=f"see `toolkit phase plan {phase_id}`")
                if entry.revision == 1:
                    raise ToolkitError(
                        f"phase {phase_id} step {step_id} is at revision 1, its first: there is no revision to go back to",
                        hint=f"`toolkit phase revert {phase_id}` (without --step) removes the whole phase")
                t = self.renderer.downgrade(phase, step, entry.revision)
                if t is None:
                    raise ToolkitError(
                        f"phase {phase_id} step {step_id} cannot go back from revision {entry.revision} to "
                        f"{entry.revision - 1}: revision {entry.revision} has no down script "
                        f"({step.sql}/down/{entry.revision}-{entry.revision - 1}.sql)",
                        hint="nothing was changed; write that script (templates/README.md), or revert the phase")
                ledger.install(conn)
                tracker = catalog.Tracker(conn, done)
                with conn.transaction():
                    self._session(conn)
                    t0 = time.perf_counter()
                    with tracker.step((phase_id, step_id)):
                        self._transition(conn, t)
                    r = self.renderer.step(phase, step, entry.revision - 1)
                    self._verify_or_raise(conn, r)
                    ledger.record_revised(conn, phase=phase_id, step=step_id, revision=r.revision, checksum=r.checksum,
                                          template_hash=r.template_hash, actor=self.actor,
                                          duration_ms=int((time.perf_counter() - t0) * 1000))
                    ledger.history(conn, action="downgrade", phase=phase_id, step=step_id, revision=r.revision,
                                   checksum=r.checksum, actor=self.actor, ok=True,
                                   detail=f"revision {entry.revision} -> {r.revision}")
                    tracker.record()
        report = PhaseReport(phase.id, phase.title, "reverted one revision",
                             steps=[{"step": step_id, "result": f"revision {entry.revision} -> {entry.revision - 1}"}])
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    # -- verify ---------------------------------------------------------------------------
    def verify(self, phase_id: int) -> list[dict]:
        phase = self.plan.phase(phase_id)
        results = []
        with connect(self.target, autocommit=True) as conn, _connection_kept(conn, self.target, "verifying"):
            done = ledger.entries(conn)
            if done:
                # Verify scripts call the toolkit's helpers: a schema that an older toolkit
                # installed lacks the newer ones.
                ledger.install(conn)
            self._at(done)
            outcomes: dict[str, bool] = {}
            edge_rows: list[dict] = []
            with conn.transaction():
                self._session(conn)
                for s in self.step_states(conn, phase, done):
                    row = {"phase": phase.id, "step": s.step, "task": s.task}
                    if s.kind == "edge" and s.state in DEPLOYED:
                        edge_rows.append(row)
                    elif s.kind == "doc" and s.state in DOC_STATES:
                        # A stale document fails; one not rendered yet is, like a manual step, not done.
                        row.update(result={DOC_CURRENT: "pass", DOC_MISSING: DOC_MISSING}.get(s.state, "fail"),
                                   message=f"{s.state}: {s.note}" if s.note else s.state)
                    elif s.state in (NOT_AVAILABLE, NOT_APPLICABLE, MANUAL, OTHER):
                        row.update(result=s.state, message=s.note if s.state in (NOT_AVAILABLE, NOT_APPLICABLE) else "")
                    elif s.state == NEW:
                        row.update(result="fail", message="not applied" if s.kind in DEPLOYED_KINDS else s.note)
                    else:
                        # The database is held to the revision it recorded.
                        step = phase.step(s.step)
                        problem = self._verify_one(conn, recorded(phase, step, done.get((phase.id, s.step)), self.renderer))
                        outcomes[s.step] = problem is None
                        row.update(result="pass" if problem is None else "fail", message=problem or "")
                    results.append(row)
            if outcomes:
                with conn.transaction():
                    for step_id, ok in outcomes.items():
                        ledger.mark_verified(conn, phase=phase.id, step=step_id, ok=ok)
                        ledger.history(conn, action="verify", phase=phase.id, step=step_id,
                                       actor=self.actor, ok=ok)
            self._verify_edges(conn, phase, edge_rows)
        return results

    def _verify_edges(self, conn, phase: Phase, rows: list[dict]) -> None:
        """Each deployed function checked where it runs (outside the SQL's transaction: a
        probe may wait for the platform)."""
        from toolkit.deploy import EdgeItem

        if not rows:
            return
        try:
            deployer = self._deployer(conn)
            for row in rows:
                step = phase.step(row["step"])
                problem = deployer.check(EdgeItem(phase.id, step.id, step.edge or ""))
                row.update(result="pass" if problem is None else "fail", message=problem or "")
        finally:
            self.close()

    # -- revert ---------------------------------------------------------------------------
    def revert(self, phase_id: int, *, drop_data: bool = False) -> PhaseReport:
        phase = self.plan.phase(phase_id)
        started = time.perf_counter()
        with connect(self.target, autocommit=True) as conn, _connection_kept(conn, self.target, "reverting"):
            with self._apply_lock(conn):
                done = ledger.entries(conn)
                if not done:
                    raise ToolkitError(f"nothing is applied on {self.target.describe()}; there is nothing to revert")
                ledger.install(conn)
                newest = max(p for p, _ in done)
                if phase_id != newest:
                    raise ToolkitError(
                        f"phase {phase_id} is not the newest applied phase (phase {newest} is)",
                        hint=f"revert phase {newest} first: phases are reverted newest first",
                    )
                known = {s.id for s in phase.steps}
                orphans = [s for p, s in done if p == phase_id and s not in known]
                if orphans:
                    raise ToolkitError(
                        f"the ledger holds steps of phase {phase_id} that the plan no longer has: "
                        f"{', '.join(orphans)}; their revert scripts are unknown",
                        hint="restore those steps in phases.yaml, revert, then remove them",
                    )
                # Whatever the ledger holds, in either scheduler mode, is reverted, each step by the
                # revert script of the revision it is at.
                self._at(done)
                applied = [recorded(phase, s, done[(phase_id, s.id)], self.renderer)
                           for s in phase.deployable_steps if (phase_id, s.id) in done]
                report = PhaseReport(phase.id, phase.title, "reverted")
                self._remove_edges(conn, phase, report)
                with conn.transaction():
                    self._session(conn, drop_data=drop_data)
                    for r in reversed(applied):
                        self._revert_step(conn, r)
                        report.steps.append({"step": r.step.id, "result": "reverted"})
                if phase.id == FINAL_PHASE:
                    self._follow_final(conn, report)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _follow_final(self, conn, report: PhaseReport) -> None:
        """Once the final migration's SQL changed names and flag checks (applied, or reverted),
        what runs outside the database follows: every Edge Function of the applied phases is
        deployed again under the names now in effect (on a project, each old slug then answers
        with a pointer to its new one; a revert removes the functions under the names Phase 6
        gave), and the frontend module in the workspace is rendered again (its flagless mode)."""
        from toolkit import frontend
        from toolkit.deploy import EdgeItem, records

        done = ledger.entries(conn)
        self._at(done)
        applied = {p.id for p in self.plan.phases if all((p.id, s.id) in done for s in self.plan.deployable(p)
                                                         if s.kind == "sql")}
        todo, by_base = [], {}
        for phase in self.plan.phases:
            if phase.id not in applied:
                continue
            states = {s.step: s.state for s in self.step_states(conn, phase, done)}
            for s in phase.steps:
                if s.kind == "edge" and states.get(s.id) in (NEW, DRIFT):
                    todo.append(EdgeItem(phase.id, s.id, s.edge or ""))
                if s.kind == "edge":
                    by_base[s.edge or ""] = EdgeItem(phase.id, s.id, s.edge or "")
        try:
            deployer = self._deployer(conn)
            wanted = {deployer.build.names.slug(b) for b in by_base} | set(deployer.build.moved)
            for o in deployer.deploy(todo):
                report.steps.append({"step": o.step, "function": o.slug, "result": o.result})
                if o.result == "failed":
                    report.failed_deploys.append(f"{o.slug}: {o.message}")
                elif not o.ok:
                    report.failed_verifies.append(f"{o.slug}: {o.message}")
            for o in deployer.point_moved(by_base):
                report.steps.append({"step": o.step, "function": o.slug, "result": o.result})
                if not o.ok:
                    report.failed_deploys.append(f"{o.slug}: {o.message}")
            # What Phase 6 deployed under names no longer in effect (a revert): removed.
            for slug, rec in records(conn, self.target.place).items():
                if slug not in wanted:
                    o = deployer.remove_slug(slug, EdgeItem(rec.phase, rec.step, slug))
                    report.steps.append({"step": rec.step, "function": slug, "result": o.result})
            report.warnings.extend(deployer.warnings)
        finally:
            self.close()
        if any((p.id, s.id) in done for p in self.plan.phases for s in p.steps if s.kind == "frontend"):
            frontend.render(frontend.source_dir(self.loaded), self.plan, frontend.workspace_dir(self.workspace))
            report.steps.append({"step": "frontend", "result": f"{frontend.WORKSPACE_DIR} rendered for the names now in effect"})

    def _remove_edges(self, conn, phase: Phase, report: PhaseReport) -> None:
        """The phase's functions go first (they use its tables); each record goes with its function."""
        from toolkit.deploy import EdgeItem, records

        recs = [r for r in records(conn, self.target.place).values() if r.phase == phase.id]
        if not recs:
            return
        try:
            deployer = self._deployer(conn)
            for r in sorted(recs, key=lambda r: r.step, reverse=True):
                step = next((s for s in phase.steps if s.id == r.step), None)
                base = step.edge if step and step.edge else r.slug
                o = deployer.remove_slug(r.slug, EdgeItem(phase.id, r.step, base))  # as recorded: names may have moved
                report.steps.append({"step": r.step, "function": o.slug, "result": o.result})
        finally:
            self.close()

    def _revert_step(self, conn, r: RenderedStep) -> None:
        import psycopg

        try:
            if r.step.kind != "frontend":  # the workspace copy stays: the app may import it
                conn.execute(r.revert)
        except psycopg.Error as exc:
            if _lost(conn):
                raise
            raise ToolkitError(
                f"reverting phase {r.phase} step {r.step.id} failed: {sql_error_message(exc)}",
                hint="nothing was reverted; the phase is as it was",
            ) from None
        ledger.forget(conn, phase=r.phase, step=r.step.id)
        ledger.history(conn, action="revert", phase=r.phase, step=r.step.id, revision=r.revision,
                       checksum=r.checksum, actor=self.actor, ok=True)



def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
