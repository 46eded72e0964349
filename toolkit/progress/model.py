"""The values PROGRESS.md shows, shared by the document reader, the fresh document and the
state computed from the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from toolkit.states import PhaseStatus

TaskMark = Literal["done", "failed", "open", "not applicable"]
MigrationStatus = Literal["not started", "in progress", "migrated", "rolled back"]

# The phase carried out once per data type; the seed lays its section out differently.
MIGRATION_PHASE = 5

_MARKER_TAIL = re.compile(r" (✅/❌|✅|❌)$")
# How a task line of the plan shows that its result goes after it: the seed's "✅/❌".
RESULT_SLOT = " ✅/❌"


def task_text(task: str) -> str:
    """A task line's key text: the line without its trailing result marker."""
    return _MARKER_TAIL.sub("", task)


def has_result_slot(task: str) -> bool:
    """Whether the toolkit owns the marker after the task (a ✅/❌ placeholder); any other
    marker ("Mark as migrated ✅") is the user's own text."""
    return task.endswith(RESULT_SLOT)


@dataclass(frozen=True)
class TaskKey:
    """Identifies one checkbox line."""

    phase: int
    text: str  # without "- [ ] " and without a trailing result marker
    parent: str | None  # for a sub-item: the text of the top-level item above it


@dataclass
class PhaseState:
    phase: int
    status: PhaseStatus
    percent: int  # 0..100


@dataclass
class MigrationRow:
    data_type: str
    status: MigrationStatus
    date: str | None  # None -> "-"
    notes: str | None  # None -> the row's notes cell is kept


@dataclass
class DocumentState:
    phases: list[PhaseState]
    tasks: dict[TaskKey, TaskMark]  # lines whose key is absent are left as they are
    migration: list[MigrationRow]  # rows whose type is absent are left as they are
    last_updated: str
    current_phase: str
    # For each task the toolkit can check, the fact behind its mark ("step x of phase 1 is not
    # applied"). A line it cannot check (a manual or document step, one not built) is absent,
    # and whatever the user ticked there is kept. None: every task in `tasks` is known.
    facts: dict[TaskKey, str] | None = None
    result_slots: frozenset[TaskKey] = frozenset()  # lines whose trailing ✅/❌ the toolkit owns

    def knows(self, key: TaskKey) -> bool:
        return self.facts is None or key in self.facts
