"""What PROGRESS.md should say, computed from the database: the ledger, checklist results and
per-type migration states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import ledger
from toolkit.config import Phase, Plan, Step
from toolkit.migration import STEPS
from toolkit.progress.model import (
    MIGRATION_PHASE, DocumentState, MigrationRow, PhaseState, TaskKey, TaskMark, task_text,
)

if TYPE_CHECKING:
    import psycopg

# How far a migration state has come, for the per-type checklist lines of phase 5.
RANK = {state: rank for rank, state in enumerate((*STEPS, "promoted"), start=1)}
CHECK_RANK = {"migration.registered": 1, "migration.flag_on": 2, "migration.legacy_disabled": 3,
              "migration.baking": 4, "migration.promoted": 5, "migration.rollback": 5, "migration.all_promoted": 5}
MIGRATION_STATUS = {"promoted": "migrated", "rolled_back": "rolled back"}


@dataclass
class Facts:
    """What the database says, gathered in one go."""

    applied: dict[tuple[int, str], bool | None] = field(default_factory=dict)   # (phase, step) -> verify_ok
    checklists: dict[tuple[int, str], str] = field(default_factory=dict)        # manual (phase, step) -> result
    migrations: dict[str, dict] = field(default_factory=dict)                   # data type -> state row


def gather(conn: "psycopg.Connection", root: Path) -> Facts:
    from toolkit.checklists import latest_results, load_all
    from toolkit.queries import query

    facts = Facts(applied={k: e.verify_ok for k, e in ledger.entries(conn).items()})
    results = latest_results(conn)
    for checklist in load_all(root):
        if checklist.ticks is not None and (checklist.name, None) in results:
            facts.checklists[(checklist.ticks.phase, checklist.ticks.step)] = results[(checklist.name, None)]
    if ledger.exists(conn, "toolkit.migrations"):
        cur = conn.execute(query("states", "migration.sql"))
        names = [c.name for c in cur.description]
        facts.migrations = {row[0]: dict(zip(names, row)) for row in cur}
    return facts


def step_mark(plan: Plan, phase: Phase, step: Step, facts: Facts) -> TaskMark:
    if step.kind == "sql" and step.available:
        ok = facts.applied.get((phase.id, step.id), "absent")
        return "done" if ok is True else "failed" if ok is False else "open"
    if step.kind == "manual":
        result = facts.checklists.get((phase.id, step.id))
        return "done" if result == "pass" else "failed" if result == "fail" else "open"
    if step.kind == "check" and step.check in CHECK_RANK:
        need = CHECK_RANK[step.check]
        reached = [RANK.get(facts.migrations.get(d.name, {}).get("state"), 0) for d in plan.data_types]
        return "done" if all(r >= need for r in reached) else "open"
    return "open"


def build(plan: Plan, facts: Facts, today: date) -> DocumentState:
    tasks: dict[TaskKey, TaskMark] = {}
    phases: list[PhaseState] = []
    for phase in plan.phases:
        marks = {s.id: step_mark(plan, phase, s, facts) for s in phase.steps}
        for step in phase.steps:
            if step.task is None:
                continue
            key = task_text(step.task)
            tasks[TaskKey(phase.id, key, None)] = marks[step.id]
            for sub in step.subtasks:
                tasks[TaskKey(phase.id, task_text(sub), key)] = "done" if marks[step.id] == "done" else "open"
        phases.append(_phase_state(plan, phase, marks, facts))
    current = next((p for p, s in zip(plan.phases, phases) if s.status != "complete"), None)
    return DocumentState(
        phases=phases,
        tasks=tasks,
        migration=[_migration_row(d.name, facts.migrations.get(d.name)) for d in plan.data_types],
        last_updated=today.isoformat(),
        current_phase=f"Phase {current.id} - {current.title}" if current else "All phases complete",
    )


def _phase_state(plan: Plan, phase: Phase, marks: dict[str, TaskMark], facts: Facts) -> PhaseState:
    done = sum(m == "done" for m in marks.values())
    if phase.id == MIGRATION_PHASE:
        states = [facts.migrations.get(d.name, {}).get("state") for d in plan.data_types]
        promoted = sum(s == "promoted" for s in states)
        percent = round(100 * promoted / len(states))
        started = any(s is not None for s in states)
        status = "complete" if promoted == len(states) else "in progress" if started else "not started"
        return PhaseState(phase.id, status, percent)
    percent = round(100 * done / len(marks))
    status = "complete" if done == len(marks) else "in progress" if done else "not started"
    return PhaseState(phase.id, status, percent)


def _migration_row(data_type: str, row: dict | None) -> MigrationRow:
    if row is None:
        return MigrationRow(data_type, "not started", None, None)
    state = row["state"]
    status = MIGRATION_STATUS.get(state, "in progress")
    when = row.get(f"{'promoted' if state == 'promoted' else 'rolled_back' if state == 'rolled_back' else 'registered'}_at")
    note = {"rolled_back": f"Rolled back: {row.get('note') or 'no reason given'}",
            "promoted": "Promoted", "baking": "Baking since " + _day(row.get("bake_started_at"))}.get(state, f"State: {state}")
    return MigrationRow(data_type, status, _day(when) if when else None, note)


def _day(value) -> str:
    return value.date().isoformat() if value else "-"
