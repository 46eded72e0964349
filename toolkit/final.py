"""The final migration (Phase 6) and what it changes for every command that runs after it.

Phase 6 removes the legacy cron jobs, renames the plan's objects to their base names
(remove_suffix), stops the system consulting feature flags (remove_flag_checks) and removes the
flags (clean_flags). Once a step of it is applied, the names objects have, and what the
templates must render, differ from what phases.yaml alone says. `Deployed` is that state, read
from the ledger in one place; the plan carries it (`Plan.as_deployed`), so that `plan.names`,
the rendered scripts, the checklists and the Edge Function builds all address what is there.

Checksums are taken of the scripts as rendered before Phase 6 (`Deployed()`), so a step
applied earlier is not reported as drift once Phase 6 has renamed what it created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from toolkit.names import Names, renamed_cron_jobs, renamed_objects

if TYPE_CHECKING:
    import psycopg

    from toolkit.config import LoadedPlan, Plan

PHASE = 6
REMOVE_LEGACY_CRON = "remove_legacy_cron"
REMOVE_SUFFIX = "remove_suffix"
REMOVE_FLAG_CHECKS = "remove_flag_checks"
CLEAN_FLAGS = "clean_flags"
# A suffix no template writes by itself: rendering every template with it shows which names
# carry the plan's suffix.
SENTINEL = "_zqsfx"
_CARRIES_SENTINEL = re.compile(rf"(?<![A-Za-z0-9_$-])[a-z_][a-z0-9_]*{SENTINEL}(?:_[a-z0-9_]*)?(?![A-Za-z0-9_$-])")


@dataclass(frozen=True)
class Deployed:
    """Which of Phase 6's changes a target has (nothing: the plan as written)."""

    legacy_cron_removed: bool = False
    renamed: bool = False           # objects carry their base names, Edge Functions their base slugs
    flagless: bool = False          # the queue and staleness functions no longer consult flags
    flags_cleaned: bool = False     # per-type flags and use_queue_system are gone (audit kept)

    @classmethod
    def from_steps(cls, applied: Iterable[tuple[int, str]]) -> "Deployed":
        steps = {s for p, s in applied if p == PHASE}
        return cls(legacy_cron_removed=REMOVE_LEGACY_CRON in steps, renamed=REMOVE_SUFFIX in steps,
                   flagless=REMOVE_FLAG_CHECKS in steps, flags_cleaned=CLEAN_FLAGS in steps)

    @classmethod
    def read(cls, conn: "psycopg.Connection") -> "Deployed":
        from toolkit import ledger

        return cls.from_steps(ledger.entries(conn))


def deployed_plan(loaded: "LoadedPlan", conn: "psycopg.Connection") -> "LoadedPlan":
    """The plan as it is deployed on the connection's database."""
    from toolkit.config import LoadedPlan

    return LoadedPlan(loaded.plan.as_deployed(Deployed.read(conn)), loaded.path, loaded.templates)


def moved_url(url: str, before: Names, after: Names) -> str:
    """A function URL ending in a slug that moved, pointed at the new slug."""
    for old, new in _moved(before, after).items():
        if url.endswith("/" + old):
            return url[: -len(old)] + new
    return url


def _moved(before: Names, after: Names) -> dict[str, str]:
    from toolkit.names import moved_slugs

    return moved_slugs(before, after)


def moved_functions(plan: "Plan") -> dict[str, str]:
    """Edge Functions that answer under another slug on this target: old slug -> new slug.
    Locally the gateway answers the old slugs with a pointer to the new one; a hosted deploy
    (toolkit edge deploy) deploys the functions under the new slugs and the old ones as that
    pointer (see toolkit/dev/gateway and templates/edge/_shared/moved.ts)."""
    return _moved(Names(plan.settings.suffix), plan.names)


# -- remove_suffix's rename plan -------------------------------------------------------------

def rename_plan(loaded: "LoadedPlan") -> dict[str, dict[str, str]]:
    """What remove_suffix renames: {"objects": {old: new}, "cron_jobs": {old: new}}. The objects
    are those toolkit.names lists and every other name the templates of phases 0-5 give an
    object with the suffix (found by rendering them with a sentinel suffix); the database's
    catalogs then supply what hangs off them (constraints, indexes, sequences, triggers,
    policies) and the function bodies and cron commands that name them."""
    before = Names(loaded.plan.settings.suffix)
    found = {m.replace(SENTINEL, before.suffix) for m in _sentinel_names(loaded)}
    return {"objects": renamed_objects(before, found), "cron_jobs": renamed_cron_jobs(before)}


def _sentinel_names(loaded: "LoadedPlan") -> frozenset[str]:
    return _scan(loaded.path, loaded.templates, loaded.plan.model_dump_json())


@lru_cache(maxsize=4)
def _scan(path, templates, plan_json: str) -> frozenset[str]:
    from toolkit.config import LoadedPlan, Plan, SCRIPTS
    from toolkit.render import Renderer

    plan = Plan.model_validate_json(plan_json)
    found: set[str] = set()
    for mode in ("postgres", "external"):
        settings = plan.settings.model_copy(update={"suffix": SENTINEL, "scheduler_mode": mode})
        renderer = Renderer(LoadedPlan(plan.model_copy(update={"settings": settings}), path, templates))
        for phase in plan.phases:
            if phase.id == PHASE:
                continue
            for step in phase.sql_steps:
                texts = renderer.scripts(step)
                for name in SCRIPTS:
                    found.update(_CARRIES_SENTINEL.findall(texts[name]))
    return frozenset(found)


# -- the gate ---------------------------------------------------------------------------------

def unmet_gates(plan: "Plan", phase_id: int, conn: "psycopg.Connection") -> list[str]:
    """What a phase's check steps require that the database does not show yet (the final
    migration needs every data type promoted)."""
    phase = plan.phase(phase_id)
    if not any(s.check == "migration.all_promoted" for s in phase.steps):
        return []
    from toolkit.migration import promoted_types

    promoted = promoted_types(conn)
    missing = [d.name for d in plan.data_types if d.name not in promoted]
    return [f"every data type promoted (not yet: {', '.join(missing)})"] if missing else []
