"""How far things have come: the one step-state classifier that status, plan, apply, verify and
PROGRESS.md read, the names of a phase's states, and the one list of per-type migration states
(read by the toolkit schema's CHECK, the state machine, its stamps and the document).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from toolkit.catalog import Objects
    from toolkit.config import Phase, Settings, Step
    from toolkit.deploy import EdgeFacts
    from toolkit.ledger import Entry
    from toolkit.render import RenderedStep, Renderer

# The step kinds `phase apply` deploys and the ledger records (the others are confirmed by
# checklists or other commands).
DEPLOYED_KINDS = ("sql", "frontend")

# A step, as plan and status report it. Drift: the template of the revision the database
# recorded changed without a new revision, or the database no longer matches that revision.
NEW, APPLIED, UPGRADABLE, DRIFT = "new", "applied", "upgradable", "drift"
NOT_AVAILABLE, MANUAL, OTHER = "not yet available", "manual", "not deployed by apply"
NOT_APPLICABLE = "not applicable"
DEPLOYED = (APPLIED, UPGRADABLE, DRIFT)

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
    revision: int | None = None       # the revision the database recorded
    newest: int | None = None         # the plan's newest revision of the step
    upgrade: tuple[str, ...] = ()     # what `phase upgrade` would run (filled in by the engine's plan)


def classify(phase: int, step: "Step", entry: "Entry | None", rendered: "RenderedStep | None",
             applies: bool = True, catalog: "Objects | None" = None,
             doc: "tuple[str, str] | None" = None) -> StepState:
    """A step's state from the plan, its ledger entry, its rendering (of the revision the
    entry records, else the newest) and the database's catalog fingerprint when known (a pure
    function); `applies`: whether the step belongs to the plan's scheduler mode; `doc`: a doc
    step's document state and note (toolkit.docs), when known."""
    from toolkit.catalog import differences, summary

    revision = entry.revision if entry else None
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
    elif step.kind not in DEPLOYED_KINDS:
        state, note = OTHER, f"{step.kind} step"
    elif entry is None:
        state, note = NEW, f"revision {step.revision}"
    elif entry.revision > step.revision:
        state, note = DRIFT, (f"the database has revision {entry.revision}, which this plan does not know "
                              f"(its newest is {step.revision}): a newer plan applied it")
    elif rendered is not None and entry.checksum != rendered.checksum and not _settings_upgraded(entry, rendered, step):
        what = ("the plan's settings changed" if entry.template_hash == rendered.template_hash
                else f"the template of revision {entry.revision} changed without a new revision")
        state, note = DRIFT, f"{what} since it was applied"
    elif catalog is not None and entry.objects is not None and differences(entry.objects, catalog):
        state, note = DRIFT, (f"the database no longer matches revision {entry.revision}: "
                              + summary(differences(entry.objects, catalog)))
    elif entry.revision < step.revision:
        state, note = UPGRADABLE, f"revision {entry.revision} -> {step.revision}"
    else:
        state, note = APPLIED, f"revision {entry.revision}"
    return StepState(
        phase=phase, step=step.id, task=step.task, kind=step.kind, state=state, note=note,
        applied_at=entry.applied_at.isoformat(timespec="seconds") if entry else None,
        verified=entry.verify_ok if entry else None,
        revision=revision, newest=step.revision if step.kind == "sql" else None,
    )


def _settings_upgraded(entry: "Entry", rendered: "RenderedStep", step: "Step") -> bool:
    """Whether a step's checksum differs by the plan's values alone, where that is no drift:
    an upgrade to a newer revision is pending (it runs with the values as they are now), or
    the step was applied by a toolkit from before revisions, whose checksum covered every
    value of the plan (a setting added since changes it; the step's verify still checks the
    values it reads)."""
    same_template = entry.template_hash == rendered.template_hash
    return same_template and (entry.revision < step.revision or entry.objects is None)


def classify_edge(phase: int, step: "Step", edge: "EdgeFacts", applies: bool = True) -> StepState:
    """An edge step's state from its function's deployment record at the target's place and
    the content hash of what the templates would deploy now."""
    slug = edge.slug(step.edge or "")
    record = edge.records.get(slug)
    if not applies or not step.available:
        return classify(phase, step, None, None, applies)
    where = "the local gateway" if edge.place == "local" else f"project {edge.place}"
    if record is None:
        state, note = NEW, f"{slug} not deployed to {where}"
    elif record.content_hash != edge.hashes.get(slug):
        state, note = DRIFT, f"{slug} changed since deployed to {where} (drift): toolkit edge deploy {slug}"
    else:
        state = APPLIED
        note = f"{slug} version {record.version} on {where}" if record.version else f"{slug} served by {where}"
    return StepState(
        phase=phase, step=step.id, task=step.task, kind=step.kind, state=state, note=note,
        applied_at=record.deployed_at.isoformat(timespec="seconds") if record else None,
        verified=record.verify_ok if record else None,
    )


def recorded(phase: "Phase", step: "Step", entry: "Entry | None", renderer: "Renderer") -> "RenderedStep":
    """The rendering a step's ledger entry is held to: the revision it records (the newest
    when none is recorded, or when the entry's revision is one the plan does not have)."""
    if entry is not None and 1 <= entry.revision <= step.revision:
        return renderer.step(phase, step, entry.revision)
    return renderer.step(phase, step)


def phase_states(phase: "Phase", done: dict, renderer: "Renderer", settings: "Settings",
                 catalog: "Objects | None" = None, edge: "EdgeFacts | None" = None,
                 docs: "dict[str, tuple[str, str]] | None" = None) -> list[StepState]:
    """Every step of a phase classified, from the ledger entries, the renderings of the
    revisions they record, (when given) the database's catalog fingerprint, (for edge steps,
    when `edge` is given) the functions' deployment records, and the documents' states (by doc
    name)."""
    docs = docs or {}
    states = []
    for s in phase.steps:
        if edge is not None and s.kind == "edge":
            states.append(classify_edge(phase.id, s, edge, s.applies(settings)))
            continue
        entry = done.get((phase.id, s.id))
        rendered = recorded(phase, s, entry, renderer) if s.deployable else None
        states.append(classify(phase.id, s, entry, rendered, s.applies(settings), catalog, docs.get(s.doc or "")))
    return states


def deployable(states: list[StepState]) -> list[StepState]:
    """The steps apply deploys in this mode (SQL and frontend steps, and the functions once
    their state is known), whether applied yet or not."""
    return [s for s in states if s.kind in (*DEPLOYED_KINDS, "edge") and s.state not in (NOT_AVAILABLE, NOT_APPLICABLE, OTHER)]


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
