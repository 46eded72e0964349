"""Keeping PROGRESS.md true: the report, sync (in place, atomically), init, and the hook that
commands which change the rollout call afterwards."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import date
from pathlib import Path

from toolkit.config import LoadedPlan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import CheckFailed, ToolkitError
from toolkit.progress.atomic import write_atomic
from toolkit.progress.document import DocumentError, ProgressDocument
from toolkit.progress.fresh import render_fresh
from toolkit.progress.model import DocumentState
from toolkit.progress.state import Facts, build, gather

DEFAULT_NAME = "PROGRESS.md"


def document_path(root: Path, explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    if os.environ.get("TOOLKIT_PROGRESS"):
        return Path(os.environ["TOOLKIT_PROGRESS"])
    return root / DEFAULT_NAME


def current(loaded: LoadedPlan, target: Target, root: Path) -> tuple[DocumentState, Facts]:
    with connect(target, autocommit=True) as conn, database_errors():
        facts = gather(conn, loaded, root, target)
    return build(loaded.plan, facts, date.today()), facts


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
        raise ToolkitError(f"{exc} (the file was left untouched)") from None


def stale_documents(facts: Facts) -> list[str]:
    """The phase 0 documents whose inputs changed since they were rendered, in words (one not
    rendered yet is a task not done, not a problem)."""
    from toolkit.states import DOC_STALE

    return [f"document {s.step} is {s.state}: {s.note}" for s in facts.steps.values()
            if s.kind == "doc" and s.state == DOC_STALE]


def sync(path: Path, state: DocumentState, check: bool = False, stale: list[str] | None = None) -> dict:
    """`stale`: stale documents (stale_documents), which `--check` reports too."""
    document = load_document(path)
    text = document.render(state)
    changed = text != document.original
    if check:
        problems = ([f"{path} is out of date with the database"] if changed else []) + (stale or [])
        if problems:
            hints = (["run `toolkit progress sync`"] if changed else []) + (["run `toolkit docs render`"] if stale else [])
            raise CheckFailed("; ".join(problems), hint="; ".join(hints))
        return {"path": str(path), "changed": False}
    if changed:
        write_atomic(path, text)
    return {"path": str(path), "changed": changed}


def init(path: Path, loaded: LoadedPlan, state: DocumentState, force: bool) -> dict:
    if path.exists() and not force:
        raise ToolkitError(f"{path} exists already", hint="`toolkit progress sync` updates it; --force replaces it")
    write_atomic(path, render_fresh(loaded.plan, state))
    return {"path": str(path), "created": True}


def sync_if_present(loaded: LoadedPlan, target: Target, root: Path) -> str | None:
    """After a command changed the rollout: bring PROGRESS.md along if there is one.

    Returns a warning to show, or None. Never fails the command that called it.
    """
    path = document_path(root)
    if not path.exists():
        return None
    try:
        state, _ = current(loaded, target, root)
        result = sync(path, state)
    except ToolkitError as exc:
        return f"{path} was not updated: {exc.message}"
    return f"{path} updated" if result["changed"] else None
