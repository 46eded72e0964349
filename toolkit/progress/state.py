"""What PROGRESS.md should say, computed from the database: the ledger, checklist results and
per-type migration states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import ledger
from toolkit.config import Phase, Plan, Step
from toolkit.progress.model import (
    MIGRATION_PHASE, DocumentState, MigrationRow, PhaseState, TaskKey, TaskMark, task_text,
)
from toolkit.states import (DEPLOYED, DOC_CURRENT, DOC_STATES, MANUAL, NOT_APPLICABLE, RANK, STAMPS, StepState,
                            completion, phase_states)

if TYPE_CHECKING:
    import psycopg

    from toolkit.db import Target

    from toolkit.config import LoadedPlan

# The rank of migration state a phase 5/6 check line needs every type to have reached.
CHECK_RANK = {**{f"migration.{state}": rank for state, rank in RANK.items()},
              "migration.rollback": RANK["promoted"], "migration.all_promoted": RANK["promoted"]}
MIGRATION_STATUS = {"promoted": "migrated", "rolled_back": "rolled back"}


@dataclass
class Facts:
    """What the database says, gathered in one go."""

    steps: dict[tuple[int, str], StepState] = field(default_factory=dict)       # (phase, step) -> its state
    checklists: dict[tuple[int, str], str] = field(default_factory=dict)        # manual (phase, step) -> result
    migrations: dict[str, dict] = field(default_factory=dict)                   # data type -> state row


def gather(conn: "psycopg.Connection", loaded: "LoadedPlan", root: Path, target: "Target | None" = None) -> Facts:
    """`target`: the documents' (its functions URL is in the monitoring workflow); without it the
    doc steps are not looked at."""
    from toolkit.checklists import latest_results, load_all
    from toolkit.final import Deployed
    from toolkit.queries import query
    from toolkit.render import Renderer

    done = ledger.entries(conn)
    renderer = Renderer(loaded, Deployed.from_steps(done))
    docs = None
    if target is not None:
        from toolkit.docs import Documents

        docs = {name: (d.state, d.note) for name, d in Documents(loaded, target, root).states(conn).items()}
    facts = Facts(steps={(p.id, s.step): s for p in loaded.plan.phases
                         for s in phase_states(p, done, renderer.phase(p), loaded.plan.settings, docs)})
    results = latest_results(conn)
    for checklist in load_all(root, loaded.plan):
        if checklist.ticks is not None and (checklist.name, None) in results:
            facts.checklists[(checklist.ticks.phase, checklist.ticks.step)] = results[(checklist.name, None)]
    if ledger.exists(conn, "toolkit.migrations"):
        cur = conn.execute(query("states", "migration.sql"))
        names = [c.name for c in cur.description]
        facts.migrations = {row[0]: dict(zip(names, row)) for row in cur}
    return facts


def step_mark(plan: Plan, phase: Phase, step: Step, facts: Facts) -> TaskMark:
    state = facts.steps.get((phase.id, step.id))
    if state is not None and state.state == NOT_APPLICABLE:
        return "not applicable"
    if state is not None and state.state in DEPLOYED:
        return "done" if state.verified is True else "failed" if state.verified is False else "open"
    if state is not None and state.kind == "doc" and state.state in DOC_STATES:
        return "done" if state.state == DOC_CURRENT else "open"
    if state is not None and state.state == MANUAL:
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
                tasks[TaskKey(phase.id, task_text(sub), key)] = marks[step.id] if marks[step.id] in (
                    "done", "not applicable") else "open"
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
        return PhaseState(phase.id, completion(promoted, len(states), any(s is not None for s in states)), percent)
    counted = [m for m in marks.values() if m != "not applicable"]  # what can be done in this mode
    return PhaseState(phase.id, completion(done, len(counted), done > 0), round(100 * done / max(len(counted), 1)))


def _migration_row(data_type: str, row: dict | None) -> MigrationRow:
    if row is None:
        return MigrationRow(data_type, "not started", None, None)
    state = row["state"]
    status = MIGRATION_STATUS.get(state, "in progress")
    when = row.get(STAMPS[state if state in ("promoted", "rolled_back") else "registered"])
    note = {"rolled_back": f"Rolled back: {row.get('note') or 'no reason given'}",
            "promoted": "Promoted", "baking": "Baking since " + _day(row.get("bake_started_at"))}.get(state, f"State: {state}")
    return MigrationRow(data_type, status, _day(when) if when else None, note)


def _day(value) -> str:
    return value.date().isoformat() if value else "-"
