"""A whole new PROGRESS.md for a plan (`progress init`), from the Jinja template."""

from __future__ import annotations


import jinja2

from toolkit.config import DataType, Phase, Plan
from toolkit.progress.document import ProgressDocument
from toolkit.progress.model import MIGRATION_PHASE, DocumentState
from toolkit.project import BUNDLED

TEMPLATES = BUNDLED / "templates" / "progress"
TEMPLATE = "PROGRESS.md.j2"


def render_fresh(plan: Plan, state: DocumentState) -> str:
    """A whole new PROGRESS.md for the plan, showing the state (`progress init`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    text = env.get_template(TEMPLATE).render(phases=_fresh_phases(plan), data_types=_fresh_data_types(plan))
    # The template shows a neutral document; the state goes in the same way it does for an update.
    return ProgressDocument.parse(text, TEMPLATES / TEMPLATE).render(state)


def _fresh_phases(plan: Plan) -> list[dict]:
    labels = [f"Phase {p.id}: {p.title}" for p in plan.phases]
    width = max(map(len, labels)) + 2  # the seed leaves two spaces after its longest title
    return [
        {
            "id": p.id,
            "title": p.title,
            "label": label.ljust(width),
            "target": p.target or "-",
            "blockers": _blockers(p),
            "migration": p.id == MIGRATION_PHASE,
            "steps": [s for s in p.steps if s.task],
        }
        for p, label in zip(plan.phases, labels)
    ]


def _blockers(phase: Phase) -> str:
    if not phase.requires:
        return "None"
    names = ", ".join(f"Phase {r}" for r in phase.requires)
    note = " (all types migrated)" if MIGRATION_PHASE in phase.requires else ""
    return f"{names} must be complete{note}"


def _fresh_data_types(plan: Plan) -> list[dict]:
    on_demand = [d.name for d in plan.data_types if d.strategy == "on-demand"]
    return [
        {
            "name": d.name,
            "order_note": _order_note(d, on_demand),
            "status_note": "Scheduled type" if d.strategy == "scheduled" else "-",
        }
        for d in plan.data_types
    ]


def _order_note(data_type: DataType, on_demand: list[str]) -> str:
    """The seed's wording for the recommended migration order."""
    if data_type.strategy == "scheduled":
        return "scheduled, not on-demand"
    rank = on_demand.index(data_type.name)
    if rank == 0:
        return "highest volume, most critical"
    if rank == len(on_demand) - 1:
        return "lowest volume"
    return "high volume" if rank == 1 else "lower volume"
