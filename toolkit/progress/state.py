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
    MIGRATION_PHASE, DocumentState, MigrationRow, PhaseState, TaskKey, TaskMark, has_result_slot, task_text,
)
from toolkit.states import (DEPLOYED, DOC_CURRENT, DOC_STALE, DOC_STATES, MANUAL, NEW, NOT_APPLICABLE, RANK, StepState, completion,
                            phase_states)

if TYPE_CHECKING:
    import psycopg

    from toolkit.config import LoadedPlan
    from toolkit.db import Target

# The rank of migration state a phase 5/6 check line needs every type to have reached.
CHECK_RANK = {**{f"migration.{state}": rank for state, rank in RANK.items()},
              "migration.rollback": RANK["promoted"], "migration.all_promoted": RANK["promoted"]}
MIGRATION_STATUS = {"promoted": "migrated", "rolled_back": "rolled back"}


@dataclass
class Facts:
    """What the database says, gathered in one go."""

    steps: dict[tuple[int, str], StepState] = field(default_factory=dict)       # (phase, step) -> its state
    checklists: dict[tuple[int, str], str] = field(default_factory=dict)        # manual (phase, step) -> result
    checklist_names: dict[tuple[int, str], str] = field(default_factory=dict)   # manual (phase, step) -> checklist
    migrations: dict[str, dict] = field(default_factory=dict)                   # data type -> state row


def gather(conn: "psycopg.Connection", loaded: "LoadedPlan", root: Path, target: "Target | None" = None) -> Facts:
    """`target`: where the Edge Functions run (its place) and the documents' (its functions URL
    is in the monitoring workflow); without it, the local gateway's and the doc steps are not
    looked at."""
    from toolkit import deploy
    from toolkit.checklists import latest_results, load_all
    from toolkit.final import Deployed
    from toolkit.queries import query
    from toolkit.render import Renderer

    done = ledger.entries(conn)
    renderer = Renderer(loaded, Deployed.from_steps(done))
    edge = deploy.facts(conn, loaded, target.place if target is not None else "local")
    docs = None
    if target is not None:
        from toolkit.docs import Documents

        docs = {name: (d.state, d.note) for name, d in Documents(loaded, target, root).states(conn).items()}
    facts = Facts(steps={(p.id, s.step): s for p in loaded.plan.phases
                         for s in phase_states(p, done, renderer, loaded.plan.settings, edge=edge, docs=docs)})
    results = latest_results(conn)
    for checklist in load_all(root, loaded.plan):
        if checklist.ticks is not None and (checklist.name, None) in results:
            ticks = (checklist.ticks.phase, checklist.ticks.step)
            facts.checklists[ticks] = results[(checklist.name, None)]
            facts.checklist_names[ticks] = checklist.name
    if ledger.exists(conn, "toolkit.migrations"):
        cur = conn.execute(query("states", "migration.sql"))
        names = [c.name for c in cur.description]
        facts.migrations = {row[0]: dict(zip(names, row)) for row in cur}
    return facts


def step_mark(plan: Plan, phase: Phase, step: Step, facts: Facts) -> tuple[TaskMark, str | None]:
    """The step's mark and the fact it rests on; no fact: the toolkit cannot check the step
    (a document or manual step without a checklist result, one not built yet)."""
    state = facts.steps.get((phase.id, step.id))
    name = f"step {step.id} of phase {phase.id}"
    if state is not None and state.state == NOT_APPLICABLE:
        return "not applicable", f"{name} does not apply in the chosen scheduler mode ({state.note})"
    if state is not None and state.state in DEPLOYED:
        if state.verified is True:
            return "done", f"{name} is applied and verified"
        if state.verified is False:
            return "failed", f"{name} failed its last verify (`toolkit phase verify {phase.id}`)"
        return "open", f"{name} is applied but not verified yet (`toolkit phase verify {phase.id}`)"
    if state is not None and state.state == NEW:
        return "open", f"{name} is not applied (`toolkit phase apply {phase.id}`)"
    if state is not None and state.kind == "doc" and state.state in DOC_STATES:
        # A document not rendered yet says nothing the toolkit can hold against a hand tick (the
        # user may keep that document elsewhere); a stale one is the toolkit's to judge.
        if state.state == DOC_CURRENT:
            return "done", f"document {step.doc} is current"
        if state.state == DOC_STALE:
            return "open", f"document {step.doc} is stale: {state.note} (`toolkit docs render`)"
        return "open", None
    if state is not None and state.state == MANUAL:
        result = facts.checklists.get((phase.id, step.id))
        checklist = facts.checklist_names.get((phase.id, step.id))
        if result == "pass":
            return "done", f"checklist {checklist} passed"
        if result == "fail":
            return "failed", f"the latest run of checklist {checklist} failed (`toolkit checklist show`)"
        return "open", None
    if step.kind == "check" and step.check in CHECK_RANK:
        need = CHECK_RANK[step.check]
        behind = [d.name for d in plan.data_types if RANK.get(facts.migrations.get(d.name, {}).get("state"), 0) < need]
        if not behind:
            return "done", f"every data type has reached {step.check.split('.', 1)[1]}"
        return "open", f"{len(behind)} data type(s) have not reached {step.check.split('.', 1)[1]}: {', '.join(behind)}"
    return "open", None


def build(plan: Plan, facts: Facts, today: date, hand: dict[TaskKey, TaskMark] | None = None) -> DocumentState:
    """What the document should show. `hand`: the marks the document has now; a tick on a line
    the toolkit cannot check is the user's word and counts towards the phase's progress."""
    tasks: dict[TaskKey, TaskMark] = {}
    known: dict[TaskKey, str] = {}
    slots: set[TaskKey] = set()
    phases: list[PhaseState] = []
    for phase in plan.phases:
        marks: dict[str, TaskMark] = {}
        for step in phase.steps:
            mark, fact = step_mark(plan, phase, step, facts)
            key = TaskKey(phase.id, task_text(step.task), None) if step.task else None
            if fact is None and key is not None and (hand or {}).get(key) == "done":
                mark = "done"
            marks[step.id] = mark
            if key is None:
                continue
            tasks[key] = mark
            if has_result_slot(step.task):
                slots.add(key)
            for sub in step.subtasks:
                sub_key = TaskKey(phase.id, task_text(sub), key.text)
                tasks[sub_key] = mark if mark in ("done", "not applicable") else "open"
                if fact is not None:
                    known[sub_key] = fact
            if fact is not None:
                known[key] = fact
        phases.append(_phase_state(plan, phase, marks, facts))
    current = next((p for p, s in zip(plan.phases, phases) if s.status != "complete"), None)
    return DocumentState(
        phases=phases,
        tasks=tasks,
        migration=[_migration_row(d.name, facts.migrations.get(d.name)) for d in plan.data_types],
        last_updated=today.isoformat(),
        current_phase=f"Phase {current.id} - {current.title}" if current else "All phases complete",
        facts=known,
        result_slots=frozenset(slots),
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
    """"Migrated Date" is the day of the promotion, and nothing before; a promotion forced past
    the bake or the monitor says so with its reason (the note is set only then)."""
    if row is None:
        return MigrationRow(data_type, "not started", None, None)
    state = row["state"]
    status = MIGRATION_STATUS.get(state, "in progress")
    promoted = row.get("promoted_at") if state == "promoted" else None
    if state == "promoted":
        note = f"Promoted by force: {row['note']}" if row.get("note") else "Promoted"
    elif state == "rolled_back":
        note = f"Rolled back {_day(row.get('rolled_back_at'))}: {row.get('note') or 'no reason given'}"
    elif state == "baking":
        note = "Baking since " + _day(row.get("bake_started_at"))
    else:
        note = f"State: {state}"
    return MigrationRow(data_type, status, _day(promoted) if promoted else None, note)


def _day(value) -> str:
    return value.date().isoformat() if value else "-"
