"""Keeping PROGRESS.md true: the report, sync (in place, atomically), init, and the hook that
commands which change the rollout call afterwards."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path

from toolkit.config import LoadedPlan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.progress import document_path
from toolkit.progress.atomic import write_atomic
from toolkit.progress.document import DocumentError, ProgressDocument
from toolkit.progress.fresh import render_fresh
from toolkit.progress.model import DocumentState
from toolkit.progress.state import Facts, build, gather

def current(loaded: LoadedPlan, target: Target, root: Path,
            hand: dict | None = None) -> tuple[DocumentState, Facts]:
    """What the document should say; `hand`: the document's own marks (see state.build)."""
    with connect(target, autocommit=True) as conn, database_errors():
        facts = gather(conn, loaded, root, target)
    return build(loaded.plan, facts, date.today(), hand), facts


def report(loaded: LoadedPlan, target: Target, root: Path) -> dict:
    state, facts = current(loaded, target, root)
    plan = loaded.plan
    complete = sum(p.status == "complete" for p in state.phases)
    blockers = []
    for phase, ps in zip(plan.phases, state.phases):
        failed = [s.id for s in phase.steps if state.tasks.get(_key(phase.id, s.task)) == "failed"]
        if failed:
            blockers.append(f"phase {phase.id}: {', '.join(failed)} failed (verify or checklist)")
    for row in state.migration:
        if row.status == "rolled back":
            blockers.append(f"{row.data_type}: {row.notes}")
    blockers += stale_documents(facts)
    return {
        "target": target.describe(),
        "current_phase": state.current_phase,
        "overall_percent": round(sum(p.percent for p in state.phases) / len(state.phases)),
        "phases_complete": complete,
        "phases": [{"phase": p.phase, "title": plan.phase(p.phase).title, "status": p.status, "percent": p.percent}
                   for p in state.phases],
        "migration": [asdict(r) for r in state.migration],
        "blockers": blockers,
    }


def _key(phase: int, task: str | None):
    from toolkit.progress.model import TaskKey, task_text

    return TaskKey(phase, task_text(task), None) if task else None


def load_document(path: Path) -> ProgressDocument:
    try:
        return ProgressDocument.load(path)
    except FileNotFoundError:
        raise ToolkitError(f"{path} does not exist", hint="create it with `toolkit progress init`") from None
    except DocumentError as exc:
        raise ToolkitError(f"{exc} (the file was left untouched)", hint=exc.hint) from None
    except OSError as exc:
        raise ToolkitError(f"cannot read {path}: {exc.strerror}") from None


def stale_documents(facts: Facts) -> list[str]:
    """The phase 0 documents whose inputs changed since they were rendered, in words (one not
    rendered yet is a task not done, not a problem)."""
    from toolkit.states import DOC_STALE

    return [f"document {s.step} is {s.state}: {s.note}" for s in facts.steps.values()
            if s.kind == "doc" and s.state == DOC_STALE]


def sync(document: ProgressDocument, loaded: LoadedPlan, target: Target, root: Path, *, check: bool = False,
         fix: bool = False) -> dict:
    """Bring the document (load_document()) in step with the database. Ticks that contradict
    what the toolkit knows are kept and reported in `warnings` (set as it knows them with
    `fix`); so is damage in the user's own text that the repair could not undo. With `check`
    nothing is written, and `out_of_date` says whether a sync would change the document;
    `stale_documents` names the phase 0 documents to render again."""
    path = document.path
    state, facts = current(loaded, target, root, hand=document.marks())
    text = document.render(state, fix=fix)
    changed = text != document.original
    contradictions = [] if fix else document.contradictions(state)
    warnings = [f"{path}:{c.line}: {c.describe()}" for c in contradictions]
    warnings += [f"{path}:{line}: damaged text the toolkit cannot repair: {problem}" for line, problem in document.damage()]
    result = {"path": str(path), "changed": changed, "contradictions": len(contradictions), "warnings": warnings}
    if check:
        return {**result, "changed": False, "out_of_date": changed, "stale_documents": stale_documents(facts)}
    if changed:
        write_atomic(path, text)
    return result


def init(path: Path, loaded: LoadedPlan, target: Target, root: Path, force: bool) -> dict:
    if path.exists() and not force:
        raise ToolkitError(f"{path} exists already", hint="`toolkit progress sync` updates it; --force replaces it")
    state, _ = current(loaded, target, root)
    write_atomic(path, render_fresh(loaded.plan, state))
    return {"path": str(path), "created": True}


def sync_if_present(loaded: LoadedPlan, target: Target, root: Path) -> str | None:
    """After a command changed the rollout: bring PROGRESS.md along if there is one.

    Returns a warning to show, or None. Never fails the command that called it.
    """
    try:
        path = document_path(root)
        if not path.exists():
            return None
        result = sync(load_document(path), loaded, target, root)
    except ToolkitError as exc:
        return f"PROGRESS.md was not updated: {exc.message}"
    said = [f"{path} updated"] if result["changed"] else []
    if result["contradictions"]:
        said.append(f"{result['contradictions']} ticked line(s) contradict the database and were kept: "
                    "see `toolkit progress sync`")
    return "; ".join(said) or None
