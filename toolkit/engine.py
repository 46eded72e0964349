"""The apply engine: plan, apply, verify and revert phases against a target database."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from toolkit import ledger
from toolkit.config import LoadedPlan, Phase
from toolkit.db import Target, connect, sql_error_message
from toolkit.errors import CheckFailed, ToolkitError
from toolkit.final import Deployed, unmet_gates
from toolkit.queries import query
from toolkit.render import RenderedStep, Renderer
from toolkit.states import (DEPLOYED, DOC_CURRENT, DOC_MISSING, DOC_STATES, DRIFT, MANUAL, NEW, NOT_APPLICABLE,
                            NOT_AVAILABLE, OTHER, StepState, deployable, deployment, phase_states)

if TYPE_CHECKING:
    import psycopg

@dataclass
class PhaseReport:
    phase: int
    title: str
    result: str
    steps: list[dict] = field(default_factory=list)
    sql: list[dict] = field(default_factory=list)
    seconds: float = 0.0


class Engine:
    def __init__(self, loaded: LoadedPlan, target: Target, actor: str, workspace: Path | None = None):
        self.loaded = loaded
        self.plan = loaded.plan
        self.target = target
        self.actor = actor
        self.renderer = Renderer(loaded)
        self.workspace = workspace  # where the doc steps' documents live (None: not looked at)
        self._doc_states: dict | None = None

    def _at(self, done: dict) -> None:
        """Render for what the ledger says is deployed (after Phase 6: base names, no flag checks)."""
        self._doc_states = None
        deployed = Deployed.from_steps(done)
        if deployed != self.renderer.deployed:
            self.renderer = Renderer(self.loaded, deployed)

    # -- reading --------------------------------------------------------------------------
    def step_states(self, conn: "psycopg.Connection", phase: Phase, done: dict | None = None,
                    rendered: list[RenderedStep] | None = None) -> list[StepState]:
        done = ledger.entries(conn) if done is None else done
        self._at(done)
        rendered = self.renderer.phase(phase) if rendered is None else rendered
        return phase_states(phase, done, rendered, self.plan.settings, self._docs(conn, phase))

    def _docs(self, conn, phase: Phase) -> dict | None:
        """The documents' states, when the phase has doc steps and the engine knows the workspace."""
        if self.workspace is None or not any(s.kind == "doc" and s.available for s in phase.steps):
            return None
        if self._doc_states is None:
            from toolkit.docs import Documents

            states = Documents(self.loaded, self.target, self.workspace).states(conn)
            self._doc_states = {name: (d.state, d.note) for name, d in states.items()}
        return self._doc_states

    def plan_phase(self, phase_id: int) -> list[StepState]:
        phase = self.plan.phase(phase_id)
        with connect(self.target, autocommit=True) as conn:
            return self.step_states(conn, phase)

    def status(self) -> dict:
        with connect(self.target, autocommit=True) as conn:
            info = conn.execute(query("server_info")).fetchone()
            done = ledger.entries(conn)
            phases = []
            for phase in self.plan.phases:
                states = self.step_states(conn, phase, done)
                to_deploy = deployable(states)
                applied = [s for s in to_deploy if s.state in DEPLOYED]
                phases.append({
                    "phase": phase.id,
                    "title": phase.title,
                    "state": deployment(states),
                    "applied": len(applied),
                    "deployable": len(to_deploy),
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
        missing = []
        for req in phase.requires:
            needed = self.plan.deployable(self.plan.phase(req))
            lacking = [s.id for s in needed if (req, s.id) not in done]
            if lacking:
                missing.append(f"phase {req} ({', '.join(lacking)} not applied)")
        missing += unmet_gates(self.plan, phase.id, conn)
        if not missing:
            return None
        if not force:
            raise ToolkitError(
                f"phase {phase.id} requires {'; '.join(missing)}",
                hint="apply the required phases first (and, for the final migration, promote every type), "
                     "or pass --force --reason \"why\"",
            )
        if not reason:
            raise ToolkitError("--force needs --reason: the override is recorded in the history")
        return "; ".join(missing)

    def apply(self, phase_ids: list[int], *, force: bool = False, reason: str | None = None,
              dry_run: bool = False) -> list[PhaseReport]:
        reports: list[PhaseReport] = []
        with connect(self.target, autocommit=True) as conn:
            if dry_run:
                done = ledger.entries(conn)
                self._at(done)
                for pid in phase_ids:
                    reports.append(self._dry_run(self.plan.phase(pid), done))
                return reports
            with self._apply_lock(conn):
                ledger.install(conn)
                for pid in phase_ids:
                    reports.append(self._apply_phase(conn, self.plan.phase(pid), force, reason))
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
        self._at(done)
        rendered = self.renderer.phase(phase)
        states = {s.step: s.state for s in self.step_states(conn, phase, done, rendered)}
        todo = [r for r in rendered if states[r.step.id] == NEW]
        drift = [r.step.id for r in rendered if states[r.step.id] == DRIFT]
        unavailable = [s.id for s in phase.planned_steps]
        if not todo:
            report.result = "already applied" if rendered else "nothing to deploy yet"
        else:
            override = self._check_requires(conn, phase, done, force, reason)
            self._run_steps(conn, phase, todo, override, reason)
            report.result = "applied"
        report.steps = [
            *({"step": r.step.id, "result": "applied"} for r in todo),
            *({"step": s, "result": "changed since applied (drift): revert and apply to redeploy"} for s in drift),
            *({"step": s, "result": NOT_AVAILABLE} for s in unavailable),
            *({"step": s, "result": NOT_APPLICABLE} for s, state in states.items() if state == NOT_APPLICABLE),
        ]
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _run_steps(self, conn, phase: Phase, todo: list[RenderedStep], override: str | None,
                   reason: str | None) -> None:
        transactional = [r for r in todo if r.step.transaction]
        standalone = [r for r in todo if not r.step.transaction]
        with conn.transaction():
            self._session(conn)
            if override:
                ledger.history(conn, action="force", phase=phase.id, actor=self.actor, ok=True,
                               detail=f"requires overridden ({override}); reason: {reason}")
            for r in transactional:
                self._deploy(conn, r)
            for r in transactional:
                self._verify_or_raise(conn, r)
        # Statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, ...) run one
        # by one afterwards; each is recorded only once it and its verify succeeded.
        for r in standalone:
            self._session(conn, is_local=False)
            self._deploy(conn, r)
            with conn.transaction():
                self._session(conn)
                self._verify_or_raise(conn, r)

    def _deploy(self, conn, r: RenderedStep) -> None:
        import psycopg

        t0 = time.perf_counter()
        try:
            conn.execute(r.deploy)
        except psycopg.Error as exc:
            raise ToolkitError(
                f"phase {r.phase} step {r.step.id} failed: {sql_error_message(exc)}",
                hint="nothing of this phase was applied; fix the step and run apply again",
            ) from None
        ledger.record_applied(
            conn, phase=r.phase, step=r.step.id, checksum=r.checksum, template_hash=r.template_hash,
            actor=self.actor, duration_ms=int((time.perf_counter() - t0) * 1000),
        )
        ledger.history(conn, action="apply", phase=r.phase, step=r.step.id, checksum=r.checksum,
                       actor=self.actor, ok=True)

    def _verify_or_raise(self, conn, r: RenderedStep) -> None:
        problem = self._verify_one(conn, r)
        if problem:
            raise CheckFailed(
                f"phase {r.phase} step {r.step.id} did not verify after deploy: {problem}",
                hint="nothing of this phase was applied",
            )

    @staticmethod
    def _verify_one(conn, r: RenderedStep) -> str | None:
        """Run a verify script inside a savepoint that is always rolled back."""
        import psycopg

        class _Undo(Exception):
            pass

        try:
            with conn.transaction():
                conn.execute(r.verify)
                raise _Undo
        except _Undo:
            return None
        except psycopg.Error as exc:
            return sql_error_message(exc)

    # -- verify ---------------------------------------------------------------------------
    def verify(self, phase_id: int) -> list[dict]:
        phase = self.plan.phase(phase_id)
        results = []
        with connect(self.target, autocommit=True) as conn:
            done = ledger.entries(conn)
            if done:
                # Verify scripts call the toolkit's helpers: a schema that an older toolkit
                # installed lacks the newer ones.
                ledger.install(conn)
            self._at(done)
            rendered = self.renderer.phase(phase)
            by_id = {r.step.id: r for r in rendered}
            outcomes: dict[str, bool] = {}
            with conn.transaction():
                self._session(conn)
                for s in self.step_states(conn, phase, done, rendered):
                    row = {"phase": phase.id, "step": s.step, "task": s.task}
                    if s.kind == "doc" and s.state in DOC_STATES:
                        # A stale document fails; one not rendered yet is, like a manual step, not done.
                        row.update(result={DOC_CURRENT: "pass", DOC_MISSING: DOC_MISSING}.get(s.state, "fail"),
                                   message=f"{s.state}: {s.note}" if s.note else s.state)
                    elif s.state in (NOT_AVAILABLE, NOT_APPLICABLE, MANUAL, OTHER):
                        row.update(result=s.state, message=s.note if s.state in (NOT_AVAILABLE, NOT_APPLICABLE) else "")
                    elif s.state == NEW:
                        row.update(result="fail", message="not applied")
                    else:
                        problem = self._verify_one(conn, by_id[s.step])
                        outcomes[s.step] = problem is None
                        row.update(result="pass" if problem is None else "fail", message=problem or "")
                    results.append(row)
            if outcomes:
                with conn.transaction():
                    for step_id, ok in outcomes.items():
                        ledger.mark_verified(conn, phase=phase.id, step=step_id, ok=ok)
                        ledger.history(conn, action="verify", phase=phase.id, step=step_id,
                                       actor=self.actor, ok=ok)
        return results

    # -- revert ---------------------------------------------------------------------------
    def revert(self, phase_id: int, *, drop_data: bool = False) -> PhaseReport:
        phase = self.plan.phase(phase_id)
        started = time.perf_counter()
        with connect(self.target, autocommit=True) as conn:
            with self._apply_lock(conn):
                done = ledger.entries(conn)
                if not done:
                    raise ToolkitError(f"nothing is applied on {self.target.describe()}; there is nothing to revert")
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
                # Whatever the ledger holds, in either scheduler mode, is reverted.
                self._at(done)
                applied = [self.renderer.step(phase, s) for s in phase.deployable_steps if (phase_id, s.id) in done]
                report = PhaseReport(phase.id, phase.title, "reverted")
                with conn.transaction():
                    self._session(conn, drop_data=drop_data)
                    for r in reversed(applied):
                        self._revert_step(conn, r)
                        report.steps.append({"step": r.step.id, "result": "reverted"})
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _revert_step(self, conn, r: RenderedStep) -> None:
        import psycopg

        try:
            conn.execute(r.revert)
        except psycopg.Error as exc:
            raise ToolkitError(
                f"reverting phase {r.phase} step {r.step.id} failed: {sql_error_message(exc)}",
                hint="nothing was reverted; the phase is as it was",
            ) from None
        ledger.forget(conn, phase=r.phase, step=r.step.id)
        ledger.history(conn, action="revert", phase=r.phase, step=r.step.id, checksum=r.checksum,
                       actor=self.actor, ok=True)

