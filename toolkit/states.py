"""How far things have come: the one step-state classifier that status, plan, apply, verify and
PROGRESS.md read, the names of a phase's states, and the one list of per-type migration states
(read by the toolkit schema's CHECK, the state machine, its stamps and the document).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from toolkit.config import Phase, Settings, Step
    from toolkit.ledger import Entry
    from toolkit.render import RenderedStep

# A step, as plan and status report it.
NEW, APPLIED, DRIFT = "new", "applied", "changed"
NOT_AVAILABLE, MANUAL, OTHER = "not yet available", "manual", "not deployed by apply"
NOT_APPLICABLE = "not applicable"
DEPLOYED = (APPLIED, DRIFT)

# A phase's deployment (status, plan): how much of what apply deploys is applied.
PhaseDeployment = Literal["not yet available", "not started", "in progress", "applied"]
# A phase's completion (PROGRESS.md): every step done, the manual ones confirmed too.
PhaseStatus = Literal["not started", "in progress", "complete"]


@dataclass(frozen=True)
class StepState:
    phase: int
    step: str
    task: str | None
    kind: str
    state: str
    note: str = ""
    applied_at: str | None = None
    verified: bool | None = None


def classify(phase: int, step: "Step", entry: "Entry | None", rendered: "RenderedStep | None",
             applies: bool = True, doc: "tuple[str, str] | None" = None) -> StepState:
    """A step's state from the plan, its ledger entry and its rendering (a pure function);
    `applies`: whether the step belongs to the plan's scheduler mode; `doc`: a doc step's
    document state and note (toolkit.docs), when known."""
    if not applies:
        mode = (step.when or "").rsplit(" ", 1)[-1]
        state = NOT_APPLICABLE
        note = f"only with scheduler_mode {mode}" + (" (applied earlier: revert the phase to remove it)" if entry else "")
    elif not step.available:
        state, note = NOT_AVAILABLE, step.planned or ""
    elif step.kind == "manual":
        state, note = MANUAL, "confirmed through a checklist"
    elif step.kind == "doc" and doc is not None:
        state, note = doc
    elif step.kind != "sql":
        state, note = OTHER, f"{step.kind} step"
    elif entry is None:
        state, note = NEW, ""
    elif rendered is not None and entry.checksum != rendered.checksum:
        state, note = DRIFT, "template or settings changed since applied (drift)"
    else:
        state, note = APPLIED, ""
    return StepState(
        phase=phase, step=step.id, task=step.task, kind=step.kind, state=state, note=note,
        applied_at=entry.applied_at.isoformat(timespec="seconds") if entry else None,
        verified=entry.verify_ok if entry else None,
    )


def phase_states(phase: "Phase", done: dict, rendered: "list[RenderedStep]", settings: "Settings",
                 docs: "dict[str, tuple[str, str]] | None" = None) -> list[StepState]:
    """Every step of a phase classified, from the ledger entries, the phase's rendering and the
    documents' states (by doc name)."""
    by_id = {r.step.id: r for r in rendered}
    docs = docs or {}
    return [classify(phase.id, s, done.get((phase.id, s.id)), by_id.get(s.id), s.applies(settings), docs.get(s.doc or ""))
            for s in phase.steps]


def deployable(states: list[StepState]) -> list[StepState]:
    """The steps apply deploys in this mode, whether applied yet or not."""
    return [s for s in states if s.kind == "sql" and s.state not in (NOT_AVAILABLE, NOT_APPLICABLE)]


def deployment(states: list[StepState]) -> PhaseDeployment:
    deployable_ = deployable(states)
    applied = sum(s.state in DEPLOYED for s in deployable_)
    if not deployable_:
        return "not yet available"
    if applied == 0:
        return "not started"
    return "applied" if applied == len(deployable_) else "in progress"


def completion(done: int, total: int, started: bool) -> PhaseStatus:
    if total and done == total:
        return "complete"
    return "in progress" if started else "not started"


# -- documents (phase 0's doc steps, toolkit.docs) --------------------------------------------
DOC_CURRENT, DOC_STALE, DOC_MISSING = "current", "stale", "missing"
DOC_STATES = (DOC_CURRENT, DOC_STALE, DOC_MISSING)


def doc_state(stamps: list[str | None], expected: str | None) -> str:
    """A rendered document's state: `stamps` holds, per file, the inputs digest it carries (None:
    the file is missing; "": it carries none), `expected` the digest of today's inputs (None:
    it cannot be rendered now, e.g. no baseline captured)."""
    if not stamps or any(s is None for s in stamps):
        return DOC_MISSING
    if expected is None or any(s != expected for s in stamps):
        return DOC_STALE
    return DOC_CURRENT


# -- per-type migration ------------------------------------------------------------------------
# Each state and the column stamping when it was reached, in the order a migration passes them.
MIGRATION_STATES = (
    ("registered", "registered_at"),
    ("flag_on", "flag_on_at"),
    ("legacy_disabled", "legacy_disabled_at"),
    ("baking", "bake_started_at"),
    ("promoted", "promoted_at"),
    ("rolled_back", "rolled_back_at"),
)
STAMPS = dict(MIGRATION_STATES)
# The steps `migrate` walks through; promotion and rollback are commands of their own.
MIGRATE_STEPS = tuple(s for s, _ in MIGRATION_STATES[:4])
# How far a state has come, for the per-type checklist lines (a rollback ends the road too).
RANK = {state: rank for rank, state in enumerate((*MIGRATE_STEPS, "promoted"), start=1)}
