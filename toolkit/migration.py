"""Per-type migration: a state machine in the toolkit schema, one data type at a time.

    registered -> flag_on -> legacy_disabled -> baking -> promoted
                                                      \\-> rolled_back (from any state)

`migrate`, `promote` and `rollback` each run in one transaction under one advisory lock
(settings.locks.migration): a step that fails undoes the ones before it, so the type's state,
its registry row, its flags and its legacy cron job are as they were. A state between
`registered` and `baking` (left by an earlier toolkit, which committed each step) is resumed
from the next step.

Everything works as a hosted project's `postgres`, which is no superuser and may only read
`cron.job`: the legacy job is snapshotted with a SELECT and paused and restored through
pg_cron's functions, which change only the caller's own jobs. A job owned by another role is
therefore refused before anything changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from psycopg.types.json import Jsonb

from toolkit import canary, ledger
from toolkit.config import DataType, LoadedPlan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import CheckFailed, ToolkitError
from toolkit.flags import set_flag
from toolkit.queries import composed, query
from toolkit.states import MIGRATE_STEPS as STEPS
from toolkit.states import STAMPS

if TYPE_CHECKING:
    import psycopg

# The cron.job fields a rollback restores exactly (the job id changes if it had to be re-created).
# nodename and nodeport only a superuser may set: a re-created job takes the server's
# (cron.host and port), and a difference from the snapshot is reported, not hidden.
JOB_FIELDS = ("jobname", "schedule", "command", "nodename", "nodeport", "database", "username", "active")
# Deployed what migration itself uses; phase 4 (the browser side) is held to completion instead.
PRECONDITION_PHASES = range(0, 4)
FILE = "migration.sql"


class Migration:
    def __init__(self, loaded: LoadedPlan, target: Target, actor: str, root: Path | None = None):
        self.loaded = loaded
        self.plan = loaded.plan
        self.target = target
        self.actor = actor
        self.root = root or loaded.path.parent   # the workspace: its checklists tick phase 4's tests
        self.names = {"registry": self.plan.names["data_type_registry"]}

    # -- reading --------------------------------------------------------------------------
    def data_type(self, name: str) -> DataType:
        for d in self.plan.data_types:
            if d.name == name:
                return d
        raise ToolkitError(f"unknown data type {name!r}",
                           hint=f"one of: {', '.join(d.name for d in self.plan.data_types)}")

    def states(self, conn: "psycopg.Connection") -> dict[str, dict]:
        if not ledger.exists(conn, "toolkit.migrations"):
            return {}
        cur = conn.execute(query("states", FILE))
        names = [c.name for c in cur.description]
        return {row[0]: dict(zip(names, row)) for row in cur}

    def status(self) -> list[dict]:
        with connect(self.target, autocommit=True) as conn, database_errors():
            states = self.states(conn)
        return [{"data_type": d.name, "state": states.get(d.name, {}).get("state", "not started"),
                 **{k: v for k, v in states.get(d.name, {}).items() if k not in ("data_type", "state")}}
                for d in self.plan.data_types]

    # -- helpers --------------------------------------------------------------------------
    def _event(self, conn, data_type: str, event: str, **detail) -> None:
        conn.execute(query("event", FILE), {"data_type": data_type, "event": event, "actor": self.actor,
                                            "detail": Jsonb(detail)})

    def _transition(self, conn, data_type: str, state: str, note: str | None = None) -> None:
        conn.execute(query("set_state", FILE), {"data_type": data_type, "state": state, "actor": self.actor})
        conn.execute(composed("stamp", FILE, column=STAMPS[state]), {"data_type": data_type, "note": note})
        self._event(conn, data_type, state, note=note)

    def _check_phases(self, conn) -> None:
        done = ledger.entries(conn)
        missing = [f"phase {p.id}" for p in self.plan.phases if p.id in PRECONDITION_PHASES
                   and any((p.id, s.id) not in done for s in self.plan.deployable(p))]
        if missing:
            raise ToolkitError(f"migration needs phases 0-3 applied; not applied: {', '.join(missing)}",
                               hint="toolkit phase apply 0..3")

    def incomplete_requirements(self, conn) -> list[str]:
        """Why the phases migration requires (phase 4: the browser feeds Presence) are not
        complete, as PROGRESS.md would say: each open or failed task; [] when they are."""
        from datetime import date

        from toolkit.progress.model import MIGRATION_PHASE
        from toolkit.progress.state import build, gather, step_mark

        facts = gather(conn, self.loaded, self.root, self.target)
        state = build(self.plan, facts, date.today())
        reasons = []
        for pid in self.plan.phase(MIGRATION_PHASE).requires:
            phase = self.plan.phase(pid)
            if next(p for p in state.phases if p.phase == pid).status == "complete":
                continue
            for step in phase.steps:
                mark, _ = step_mark(self.plan, phase, step, facts)
                if mark not in ("done", "not applicable"):
                    reasons.append(f"phase {pid} {step.id} {'failed' if mark == 'failed' else 'not done'}")
        return reasons

    def _check_requirements(self, conn, force: bool, reason: str | None) -> list[str]:
        """Refuse while phase 4 is not complete, unless forced with a reason (recorded by the caller)."""
        incomplete = self.incomplete_requirements(conn)
        if incomplete and not force:
            raise ToolkitError(
                f"migration needs phase 4 complete (the browser module feeding Presence, tested): {'; '.join(incomplete)}",
                hint='toolkit phase apply 4, then the phase 4 checklists; or pass --force --reason "why"')
        if incomplete and not reason:
            raise ToolkitError("--force needs --reason: the override is recorded")
        return incomplete

    def _check_order(self, conn, dt: DataType, states: dict, out_of_order: bool, reason: str | None) -> None:
        earlier = []
        for d in self.plan.data_types:
            if d.name == dt.name:
                break
            if states.get(d.name, {}).get("state") != "promoted":
                earlier.append(d.name)
        if not earlier:
            return
        if not out_of_order:
            raise ToolkitError(
                f"{dt.name} comes after {', '.join(earlier)} in the recommended order, which are not promoted yet",
                hint='migrate them first, or pass --out-of-order --reason "why"')
        if not reason:
            raise ToolkitError("--out-of-order needs --reason: the exception is recorded")
        self._event(conn, dt.name, "out_of_order", reason=reason, ahead_of=earlier)

    # -- migrate --------------------------------------------------------------------------
    def migrate(self, name: str, *, out_of_order: bool = False, reason: str | None = None,
                force: bool = False) -> dict:
        dt = self.data_type(name)
        done: list[str] = []
        with connect(self.target, autocommit=True) as conn, database_errors("`toolkit phase apply 0..4` deploys what migration needs"):
            ledger.install(conn)
            self._check_phases(conn)
            overridden = self._check_requirements(conn, force, reason)
            with conn.transaction():
                self._lock(conn)
                states = self.states(conn)
                current = states.get(dt.name, {}).get("state")
                if current in ("baking", "promoted"):
                    return {"data_type": dt.name, "state": current, "done": [], "message": f"already {current}"}
                if overridden:
                    self._event(conn, dt.name, "requirements_overridden", reason=reason, incomplete=overridden)
                todo = STEPS[STEPS.index(current) + 1:] if current in STEPS else STEPS
                if "legacy_disabled" in todo:
                    self._legacy_job(conn, dt)  # refused here, before anything changes
                self._check_order(conn, dt, states, out_of_order, reason)
                if current == "rolled_back":
                    conn.execute(query("restart", FILE), {"data_type": dt.name})
                    self._event(conn, dt.name, "restart")
                for state in todo:
                    STEP_ACTIONS[state](self, conn, dt)
                    self._transition(conn, dt.name, state)
                    done.append(state)
        return {"data_type": dt.name, "state": "baking", "done": done,
                "message": f"{dt.name} is baking; promote after {self.plan.settings.bake_hours:g} h"}

    def _lock(self, conn) -> None:
        """One migrate, promote or rollback at a time on the target, whatever the type: the order
        check and the shared use_queue_system flag span types. Held until the transaction ends."""
        import psycopg

        conn.execute(query("migration_session", FILE), {"lock_timeout": self.plan.settings.timeouts.lock_timeout})
        try:
            conn.execute(query("lock_migrations", FILE), {"key": self.plan.settings.locks.migration})
        except psycopg.errors.LockNotAvailable:
            raise ToolkitError(f"another migrate, promote or rollback is running on {self.target.describe()}",
                               hint="wait for it to finish, then run the command again") from None

    def _register(self, conn, dt: DataType) -> None:
        """The type's registry row, which must read its data from the plan's table: a row there
        before (seeded by phase 1, then edited) that names another table is refused, never used."""
        conn.execute(composed("register", FILE, **self.names), {**dt.model_dump(), "endpoints": dt.endpoints})
        row = conn.execute(composed("registered_table", FILE, **self.names), {"name": dt.name}).fetchone()
        if row != (dt.table, dt.key_column, dt.timestamp_column):
            registry = self.names["registry"]
            raise ToolkitError(
                f"the {registry} row of {dt.name} reads its data from {_where(*row)}, not from the plan's "
                f"{_where(dt.table, dt.key_column, dt.timestamp_column)}: migrate {dt.name} changed nothing",
                hint=f"set the row back to the plan's table (`toolkit phase verify 1` names every row that differs), "
                     f"then run migrate again")

    def _flag_on(self, conn, dt: DataType) -> None:
        why = f"migrate {dt.name}"
        set_flag(conn, "use_queue_system", True, self.actor, why)
        set_flag(conn, dt.flag, True, self.actor, why)

    def _disable_legacy(self, conn, dt: DataType) -> None:
        job = self._legacy_job(conn, dt)
        conn.execute(query("save_snapshot", FILE), {"data_type": dt.name, "snapshot": Jsonb(job)})
        conn.execute(query("deactivate", FILE), {"jobid": job["jobid"]})

    def _legacy_job(self, conn, dt: DataType) -> dict:
        """The type's legacy job as a snapshot, when the connected role may pause it."""
        if not ledger.exists(conn, "cron.job"):
            raise ToolkitError(f"pg_cron is not installed on {self.target.describe()}: cannot disable {dt.legacy_job}")
        jobs = self._changeable_jobs(conn, dt.legacy_job, f"migrate {dt.name}")
        if not jobs:
            raise ToolkitError(
                f"the legacy cron job {dt.legacy_job!r} of {dt.name} was not found in cron.job",
                hint="check `toolkit cron list` and the type's legacy_job in phases.yaml; run migrate again after")
        return jobs[0]

    def _changeable_jobs(self, conn, jobname: str, action: str) -> list[dict]:
        """The jobs of that name; refused when one is another role's, since pg_cron lets a
        non-superuser change only its own jobs and the caller must hear it before anything changes."""
        cur = conn.execute(query("jobs_named", FILE), {"name": jobname})
        rows = [dict(zip([c.name for c in cur.description], row)) for row in cur]
        foreign = next((r for r in rows if not r["changeable"]), None)
        if foreign is not None:
            owner, caller = foreign["username"], foreign["caller"]
            raise ToolkitError(
                f"the cron job {jobname!r} (id {foreign['jobid']}) is owned by {owner}, not {caller}; "
                f"pg_cron lets only its owner change it, so {action} changed nothing",
                hint=f"have it re-created as {caller}: in the Supabase dashboard (Integrations > Cron), or as {owner}, "
                     f"unschedule it, then schedule it again as {caller} with the same name, schedule and command; "
                     "then run the command again")
        return [{k: v for k, v in r.items() if k not in ("changeable", "caller")} for r in rows]

    def _start_bake(self, conn, dt: DataType) -> None:
        pass  # the transition's timestamp is the bake's start

    # -- monitor --------------------------------------------------------------------------
    def monitor(self, name: str, window_minutes: int | None = None) -> dict:
        dt = self.data_type(name)
        with connect(self.target, autocommit=True) as conn, database_errors("`toolkit phase apply 0..3` deploys the queue"):
            ledger.install(conn)
            verdict = canary.assess(conn, self.plan, dt, window_minutes)
            with conn.transaction():
                self._event(conn, dt.name, "monitor", **verdict)
        return {"data_type": dt.name, **verdict}

    # -- promote / rollback ----------------------------------------------------------------
    def promote(self, name: str, *, force: bool = False, reason: str | None = None) -> dict:
        dt = self.data_type(name)
        if force and not reason:
            raise ToolkitError("--force needs --reason: the exception is recorded")
        with connect(self.target, autocommit=True) as conn, database_errors("`toolkit phase apply 0..3` deploys the queue"):
            ledger.install(conn)
            with conn.transaction():
                self._lock(conn)
                row = _row(conn.execute(query("migration_state", FILE), {"data_type": dt.name}))
                if row is None or row["state"] != "baking":
                    state = row["state"] if row else "not started"
                    if state == "promoted":
                        return {"data_type": dt.name, "state": state, "message": "already promoted"}
                    raise ToolkitError(f"{dt.name} is {state}; only a baking type can be promoted",
                                       hint=f"toolkit migrate {dt.name}")
                baked = datetime.now(timezone.utc) - row["bake_started_at"]
                needed = timedelta(hours=self.plan.settings.bake_hours)
                verdict = canary.assess(conn, self.plan, dt)
                problems = []
                if baked < needed:
                    problems.append(f"it has baked {_hours(baked)} of the {_hours(needed)} required")
                if verdict["verdict"] != "pass":
                    problems.append(f"the monitor verdict is {verdict['verdict']} ({'; '.join(verdict['reasons'])})")
                if problems and not force:
                    raise CheckFailed(f"{dt.name} cannot be promoted yet: {'; '.join(problems)}",
                                      hint='wait, or pass --force --reason "why"')
                self._event(conn, dt.name, "monitor", **verdict)
                if problems:
                    self._event(conn, dt.name, "forced", reason=reason, overridden=problems)
                self._transition(conn, dt.name, "promoted", note=reason if problems else None)
        return {"data_type": dt.name, "state": "promoted", "overridden": problems,
                "monitor": {"data_type": dt.name, **verdict}}

    def rollback(self, name: str, *, reason: str) -> dict:
        dt = self.data_type(name)
        if not reason or not reason.strip():
            raise ToolkitError("a reason is required to roll back", hint='pass --reason "why"')
        with connect(self.target, autocommit=True) as conn, database_errors():
            ledger.install(conn)
            with conn.transaction():
                self._lock(conn)
                row = _row(conn.execute(query("migration_state", FILE), {"data_type": dt.name}))
                if row is None:
                    raise ToolkitError(f"{dt.name} was never migrated; there is nothing to roll back")
                self._refuse_after_final(conn, dt)
                if row["state"] == "rolled_back":
                    return {"data_type": dt.name, "state": "rolled_back", "message": "already rolled back"}
                restored = self._restore_legacy(conn, dt, row["legacy_snapshot"])
                set_flag(conn, dt.flag, False, self.actor, f"rollback {dt.name}: {reason}")
                self._transition(conn, dt.name, "rolled_back", note=reason)
        return {"data_type": dt.name, "state": "rolled_back", "legacy_job": restored}

    def _refuse_after_final(self, conn, dt: DataType) -> None:
        from toolkit.final import PHASE, Deployed

        if Deployed.read(conn) != Deployed():
            raise ToolkitError(
                f"phase {PHASE} (the final migration) is applied: {dt.name} can no longer be rolled back alone",
                hint=f"toolkit phase revert {PHASE} brings the legacy cron jobs, the names and the flags back; "
                     f"then roll {dt.name} back")

    def _restore_legacy(self, conn, dt: DataType, snapshot: dict | None) -> dict | None:
        if snapshot is None:
            return None  # the legacy job was never touched
        if not ledger.exists(conn, "cron.job"):
            raise ToolkitError(f"pg_cron is not installed on {self.target.describe()}: "
                               f"cannot restore {snapshot['jobname']}")
        jobs = self._changeable_jobs(conn, snapshot["jobname"], f"rollback {dt.name}")
        job = next((j for j in jobs if j["jobid"] == snapshot["jobid"]), jobs[0] if jobs else None)
        if job is not None:
            conn.execute(query("restore_job", FILE), {**snapshot, "jobid": job["jobid"]})
            jobid, how = job["jobid"], "restored"
        else:
            # Unscheduled meanwhile: scheduled again from the snapshot.
            jobid = conn.execute(query("recreate_job", FILE), snapshot).fetchone()[0]
            how = "re-created"
        now = _row(conn.execute(query("job_by_id", FILE), {"jobid": jobid}))
        differs = {f: {"snapshot": snapshot[f], "now": now[f]} for f in JOB_FIELDS if now[f] != snapshot[f]}
        self._event(conn, dt.name, "legacy_restored", how=how, jobid=jobid, differs=differs)
        return {"jobid": jobid, "how": how, "differs": differs}


def promoted_types(conn: "psycopg.Connection") -> set[str]:
    """The data types whose migration is promoted (the final migration waits for all of them)."""
    if not ledger.exists(conn, "toolkit.migrations"):
        return set()
    return {row[0] for row in conn.execute(query("promoted", FILE))}


def _where(table: str, key_column: str | None, timestamp_column: str) -> str:
    """Where a registry row says a type's data is kept, for messages."""
    return f"public.{table} (key {key_column or 'none'}, timestamp {timestamp_column})"


STEP_ACTIONS: dict[str, Callable] = {
    "registered": Migration._register,
    "flag_on": Migration._flag_on,
    "legacy_disabled": Migration._disable_legacy,
    "baking": Migration._start_bake,
}


def _row(cur) -> dict | None:
    row = cur.fetchone()
    return dict(zip([c.name for c in cur.description], row)) if row else None


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"
