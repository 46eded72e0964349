"""PROGRESS.md: reading the user's document, rewriting only what the toolkit owns, `progress init`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from toolkit.config import load_plan
from toolkit.progress.atomic import write_atomic
from toolkit.progress.document import (
    DocumentError,
    DocumentState,
    MigrationRow,
    PhaseState,
    ProgressDocument,
    TaskKey,
)
from toolkit.progress.fresh import render_fresh
from toolkit.textfix import repair

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"
# How 🔴 🟡 🟢 ░ █ ✅ ❌ look after UTF-8 was read as Mac Roman and saved again.
DAMAGED = ("üî¥", "üü°", "üü¢", "‚ñë", "‚ñà", "‚úÖ", "‚ùå")
MARKER = re.compile(r" (✅/❌|✅|❌)$")

PLAN = load_plan(ROOT / "phases.yaml").plan
# The lines whose ✅/❌ the toolkit sets: the plan's tasks written with the placeholder.
SLOTS = frozenset(TaskKey(p.id, MARKER.sub("", s.task), None) for p in PLAN.phases for s in p.steps
                  if s.task and s.task.endswith(" ✅/❌"))

FLAGS = TaskKey(0, "Create `feature_flags` table", None)
LOGGING = TaskKey(0, "Create monitoring/logging infrastructure", None)
TABLES_TEST = TaskKey(1, "Manual test: Can insert/query all tables", None)


@pytest.fixture(scope="module")
def plan():
    return PLAN


@pytest.fixture
def seed() -> ProgressDocument:
    return ProgressDocument.load(SEED)


def _repaired_seed() -> str:
    return repair(SEED.read_text(encoding="utf-8"))


def _state(phases: dict[int, tuple[str, int]] | None = None, tasks=None, migration=None,
           current_phase: str = "Phase 0 - Safety Infrastructure (in progress)") -> DocumentState:
    """Seven phases, not started unless given as {phase: (status, percent)}."""
    given = phases or {}
    return DocumentState(
        phases=[PhaseState(n, *given.get(n, ("not started", 0))) for n in range(7)],
        tasks=tasks or {},
        migration=migration or [],
        last_updated="2026-11-29",
        current_phase=current_phase,
        result_slots=SLOTS,
    )


def _changes(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new) if a != b]


def _plan_keys(plan) -> list[TaskKey]:
    """The plan's task lines as keys: a key's text carries no result marker."""
    keys = []
    for phase in plan.phases:
        for step in phase.steps:
            if step.task:
                top = MARKER.sub("", step.task)
                keys.append(TaskKey(phase.id, top, None))
                keys += [TaskKey(phase.id, MARKER.sub("", sub), top) for sub in step.subtasks]
    return keys


def _line(text: str, start: str) -> str:
    return next(line for line in text.split("\n") if line.startswith(start))


# --- the seed -----------------------------------------------------------------------------------


def test_the_seed_parses_and_is_repaired(seed: ProgressDocument):
    assert seed.original == SEED.read_text(encoding="utf-8")
    assert seed.text == _repaired_seed()
    assert not any(form in seed.text for form in DAMAGED)
    assert set(seed.marks().values()) == {"open"}


def test_repair_changes_only_the_lines_with_mojibake(seed: ProgressDocument):
    old, new = seed.original.split("\n"), seed.text.split("\n")
    assert len(old) == len(new)
    changed = {i for i, (a, b) in enumerate(zip(old, new)) if a != b}
    damaged = {i for i, line in enumerate(old) if any(ord(c) > 127 for c in line)}
    assert changed == damaged and len(changed) == 34


def test_the_seed_task_keys_are_the_plans_tasks_and_subtasks(seed: ProgressDocument, plan):
    assert seed.task_keys() == _plan_keys(plan)
    # The sub-item that appears under two tasks is told apart by its parent.
    skip_locked = [k for k in seed.task_keys() if k.text == "FOR UPDATE SKIP LOCKED"]
    assert [k.parent for k in skip_locked] == ["Create `get_queue_batch_v2()` function",
                                               "Create `recover_stuck_jobs_v2()` function"]


# --- render -------------------------------------------------------------------------------------


def test_starting_phase_0_changes_exactly_the_owned_lines(seed: ProgressDocument):
    state = _state({0: ("in progress", 29)}, {FLAGS: "done", LOGGING: "done"})
    assert _changes(seed.text, seed.render(state)) == [
        ("**Last Updated:** 2025-01-XX", "**Last Updated:** 2026-11-29"),
        ("**Current Phase:** Phase 0 - Safety Infrastructure",
         "**Current Phase:** Phase 0 - Safety Infrastructure (in progress)"),
        ("Phase 0: Safety Infrastructure        [░░░░░░░░░░] 0%",
         "Phase 0: Safety Infrastructure        [███░░░░░░░] 29%"),
        ("**Overall Progress:** 0% (0/7 phases complete)", "**Overall Progress:** 4% (0/7 phases complete)"),
        ("**Status:** 🔴 Not Started", "**Status:** 🟡 In Progress"),  # the first Status line: phase 0's
        ("- [ ] Create `feature_flags` table", "- [x] Create `feature_flags` table"),
        ("- [ ] Create monitoring/logging infrastructure", "- [x] Create monitoring/logging infrastructure"),
    ]


def test_the_output_has_real_symbols_and_no_mojibake(seed: ProgressDocument):
    out = seed.render(_state({0: ("in progress", 29)}))
    for symbol in ("🔴", "🟡", "░", "█", "✅/❌"):
        assert symbol in out
    assert not any(form in out for form in DAMAGED)


def test_a_complete_phase_is_green_with_a_full_bar(seed: ProgressDocument):
    out = seed.render(_state({0: ("complete", 100), 1: ("in progress", 50)}))
    assert _line(out, "Phase 0:") == "Phase 0: Safety Infrastructure        [██████████] 100%"
    assert _line(out, "Phase 1:") == "Phase 1: Foundation (Parallel)        [█████░░░░░] 50%"
    assert re.findall(r"\*\*Status:\*\* (.*)", out)[:3] == ["🟢 Complete", "🟡 In Progress", "🔴 Not Started"]
    assert _line(out, "**Overall") == "**Overall Progress:** 21% (1/7 phases complete)"


@pytest.mark.parametrize("percent, filled", [
    (0, 0), (1, 1), (5, 1), (14, 1), (15, 2), (25, 3), (29, 3), (50, 5), (94, 9), (95, 9), (99, 9), (100, 10),
])
def test_bar_cells_round_half_up_but_show_any_progress_and_only_finished_work_full(
        seed: ProgressDocument, percent: int, filled: int):
    out = seed.render(_state({3: ("in progress", percent)}))
    bar = "█" * filled + "░" * (10 - filled)
    assert _line(out, "Phase 3:") == f"Phase 3: Staleness System (Parallel)  [{bar}] {percent}%"


def test_a_percent_out_of_range_is_refused(seed: ProgressDocument):
    with pytest.raises(ValueError, match="Phase 2: percent must be 0..100"):
        seed.render(_state({2: ("in progress", 101)}))


@pytest.mark.parametrize("mark, line", [
    ("done", "- [x] Manual test: Can insert/query all tables ✅"),
    ("failed", "- [ ] Manual test: Can insert/query all tables ❌"),
    ("open", "- [ ] Manual test: Can insert/query all tables ✅/❌"),
])
def test_result_markers_follow_the_mark_and_read_back(seed: ProgressDocument, mark: str, line: str):
    out = seed.render(_state(tasks={TABLES_TEST: mark}))
    assert line in out.split("\n")
    again = ProgressDocument.parse(out, SEED)
    assert again.marks()[TABLES_TEST] == mark
    # From any mark to any other and back: the key does not change with the marker.
    back = again.render(_state(tasks={TABLES_TEST: "open"}), fix=True)
    assert "- [ ] Manual test: Can insert/query all tables ✅/❌" in back.split("\n")


def test_a_tick_the_state_contradicts_is_kept_and_reported_unless_fixed(seed: ProgressDocument):
    done = ProgressDocument.parse(seed.render(_state(tasks={FLAGS: "done"})), SEED)
    state = _state(tasks={FLAGS: "failed"})
    state.facts = {FLAGS: "step feature_flags of phase 0 failed its last verify"}
    assert "- [x] Create `feature_flags` table" in done.render(state).split("\n")
    [contradiction] = done.contradictions(state)
    assert str(contradiction) == (f"line {contradiction.line}: `- [x] Create `feature_flags` table` is ticked, "
                                  "but step feature_flags of phase 0 failed its last verify")
    assert done.text.split("\n")[contradiction.line - 1] == "- [x] Create `feature_flags` table"
    # --fix: set as the toolkit knows it (failed without a marker: an unticked box).
    assert "- [ ] Create `feature_flags` table" in done.render(state, fix=True).split("\n")


def test_a_hand_tick_on_a_line_the_toolkit_cannot_check_is_kept(seed: ProgressDocument):
    rollback = TaskKey(0, "Document rollback procedures", None)
    ticked = ProgressDocument.parse(seed.text.replace("- [ ] Document rollback procedures",
                                                      "- [x] Document rollback procedures"), SEED)
    state = _state(tasks={FLAGS: "done", rollback: "open"})
    state.facts = {FLAGS: "step feature_flags of phase 0 is applied and verified"}  # none for the doc step
    out = ticked.render(state).split("\n")
    assert "- [x] Document rollback procedures" in out and "- [x] Create `feature_flags` table" in out
    assert ticked.contradictions(state) == []


def test_the_users_own_marker_is_kept(seed: ProgressDocument):
    key = TaskKey(5, "If successful: Mark as migrated", None)
    for mark, box in (("open", " "), ("done", "x"), ("open", " ")):
        out = seed.render(_state(tasks={key: mark}), fix=True)
        assert f"- [{box}] If successful: Mark as migrated ✅" in out.split("\n")
        seed = ProgressDocument.parse(out, SEED)


def test_a_sub_item_is_updated_under_its_own_parent_only(seed: ProgressDocument):
    key = TaskKey(2, "FOR UPDATE SKIP LOCKED", "Create `recover_stuck_jobs_v2()` function")
    changes = _changes(seed.text, seed.render(_state(tasks={key: "done"})))
    assert ("  - [ ] FOR UPDATE SKIP LOCKED", "  - [x] FOR UPDATE SKIP LOCKED") in changes
    assert len([c for c in changes if "SKIP LOCKED" in c[0]]) == 1


def test_migration_rows_update_their_cells(seed: ProgressDocument):
    out = seed.render(_state(migration=[
        MigrationRow("quote", "in progress", None, None),
        MigrationRow("profile", "migrated", "2026-11-29", "baked 48h | no errors"),
        MigrationRow("exchange-market-status", "rolled back", "2026-11-30", None),
        MigrationRow("no-such-type", "migrated", "2026-11-29", "ignored"),
    ]))
    rows = [(a, b) for a, b in _changes(seed.text, out) if a.startswith("| `")]
    assert rows == [
        ("| `quote` | 🔴 Not Started | - | - |", "| `quote` | 🟡 In Progress | - | - |"),
        ("| `profile` | 🔴 Not Started | - | - |", r"| `profile` | 🟢 Migrated | 2026-11-29 | baked 48h \| no errors |"),
        ("| `exchange-market-status` | 🔴 Not Started | - | Scheduled type |",
         "| `exchange-market-status` | ⚪ Rolled Back | 2026-11-30 | Scheduled type |"),
    ]


def test_unknown_state_keys_leave_the_document_alone(seed: ProgressDocument):
    state = _state(tasks={
        TaskKey(0, "A task nobody wrote", None): "done",
        TaskKey(2, "FOR UPDATE SKIP LOCKED", None): "done",  # exists only as a sub-item
        TaskKey(2, "Atomic batch claiming", "Create `recover_stuck_jobs_v2()` function"): "done",  # wrong parent
        TaskKey(9, "Create `feature_flags` table", None): "done",  # wrong phase
    })
    state.phases = []
    assert [a for a, _ in _changes(seed.text, seed.render(state))] == [
        "**Last Updated:** 2025-01-XX", "**Current Phase:** Phase 0 - Safety Infrastructure"]


def test_the_users_own_tasks_and_notes_survive(plan):
    text = _repaired_seed()
    text = text.replace(
        "- [ ] Configure external monitoring (UptimeRobot/GitHub Actions)\n",
        "- [ ] Configure external monitoring (UptimeRobot/GitHub Actions)\n"
        "- [ ] Ask Sam about the UptimeRobot account\n"
        "  - [ ] Is the paid plan needed?\n", 1)
    text = text.replace("_Add notes here as you work..._", "Flags live in staging since Monday.\n\n* check ops_events", 1)
    text = text.replace("_List any known issues that need resolution..._", "- [ ] cron drifts on Mondays")
    doc = ProgressDocument.parse(text, SEED)
    extra, extra_sub = TaskKey(0, "Ask Sam about the UptimeRobot account", None), TaskKey(
        0, "Is the paid plan needed?", "Ask Sam about the UptimeRobot account")
    assert doc.task_keys() == _plan_keys(plan)[:7] + [extra, extra_sub] + _plan_keys(plan)[7:]

    out = doc.render(_state({0: ("in progress", 29)}, {FLAGS: "done", extra_sub: "done"}))
    assert "Flags live in staging since Monday.\n\n* check ops_events\n" in out
    assert "- [ ] Ask Sam about the UptimeRobot account\n  - [x] Is the paid plan needed?\n" in out
    assert "### Known Issues\n- [ ] cron drifts on Mondays\n" in out  # outside the phases: not a task


def test_crlf_stays_crlf_and_a_missing_final_newline_stays_missing(seed: ProgressDocument):
    state = _state({0: ("in progress", 29)}, {FLAGS: "done"})
    expected = seed.render(state)
    crlf = ProgressDocument.parse(seed.original.replace("\n", "\r\n"), SEED)
    assert crlf.render(state) == expected.replace("\n", "\r\n")
    bare = ProgressDocument.parse(seed.original.rstrip("\n"), SEED)
    assert bare.render(state) == expected.rstrip("\n")


def test_is_current_after_writing_the_render(tmp_path: Path):
    path = tmp_path / "PROGRESS.md"
    path.write_bytes(SEED.read_bytes())
    state = _state({0: ("in progress", 29)}, {FLAGS: "done", LOGGING: "done"})
    doc = ProgressDocument.load(path)
    assert not doc.is_current(state)
    write_atomic(path, doc.render(state))
    again = ProgressDocument.load(path)
    assert again.is_current(state)
    assert again.original == doc.render(state)
    assert not again.is_current(_state({0: ("in progress", 43)}))


def test_a_mojibake_document_is_never_current(seed: ProgressDocument):
    # The repaired seed with the seed's own values: only the repair is left to write.
    state = _state(current_phase="Phase 0 - Safety Infrastructure")
    state.last_updated = "2025-01-XX"
    assert seed.render(state) == seed.text
    assert not seed.is_current(state)


# --- errors -------------------------------------------------------------------------------------


def _index(lines: list[str], start: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(start))


def _no_headings(lines):
    lines[:] = ["# Notes", "", "- [ ] buy milk", ""]
    return 1, r"no `## Phase N: \.\.\.` headings"


def _duplicate_heading(lines):
    at = _index(lines, "## Critical Issues")
    lines[at:at] = ["## Phase 3: Staleness again", "", "**Status:** 🔴 Not Started", ""]
    first = _index(lines, "## Phase 3:") + 1
    return at + 1, rf"the Phase 3 heading appears twice \(first at line {first}\)"


def _missing_status(lines):
    heading = _index(lines, "## Phase 2:")
    del lines[heading + 2]
    return heading + 1, r"the Phase 2 section has no \*\*Status:\*\* line"


def _bar_without_bracket(lines):
    at = _index(lines, "Phase 4:")
    lines[at] = lines[at].replace("]", "")
    return at + 1, r"overview bar of Phase 4: \[ without \]"


def _bar_with_other_cells(lines):
    at = _index(lines, "Phase 1:")
    lines[at] = lines[at].replace("░", "#", 1)
    return at + 1, r"overview bar of Phase 1 must be 10 cells of █ and ░, found \[#░░░░░░░░░\]"


def _bar_too_short(lines):
    at = _index(lines, "Phase 6:")
    lines[at] = lines[at].replace("░", "", 1)
    return at + 1, r"overview bar of Phase 6 must be 10 cells"


def _row_with_missing_cell(lines):
    at = _index(lines, "| `profile`")
    lines[at] = "| `profile` | 🔴 Not Started | - |"
    return at + 1, r"this Migration Status row has 3 cells, the table has 4"


def _sub_item_under_nothing(lines):
    at = _index(lines, "_Add notes here") + 1  # under phase 0's Notes paragraph
    lines[at:at] = ["  - [ ] a stray sub-item"]
    return at + 1, r"indented but there is no top-level task above it"


def _unclosed_fence(lines):
    lines += ["```sql", "SELECT 1;"]
    return len(lines) - 1, r"this code block is never closed"


@pytest.mark.parametrize("damage", [
    _no_headings, _duplicate_heading, _missing_status, _bar_without_bracket, _bar_with_other_cells,
    _bar_too_short, _row_with_missing_cell, _sub_item_under_nothing, _unclosed_fence,
], ids=lambda f: f.__name__.strip("_"))
def test_a_document_it_cannot_understand_names_the_line(damage):
    lines = _repaired_seed().split("\n")
    line, pattern = damage(lines)
    path = Path("/somewhere/PROGRESS.md")
    with pytest.raises(DocumentError) as err:
        ProgressDocument.parse("\n".join(lines), path)
    assert err.value.line == line
    assert err.value.path == path
    assert re.search(pattern, err.value.message), err.value.message
    assert str(err.value) == f"{path}:{line}: {err.value.message}"


def test_an_indented_first_item_is_top_level():
    text = _repaired_seed().replace("- [ ] Create `feature_flags` table", "  - [ ] Create `feature_flags` table")
    keys = ProgressDocument.parse(text, SEED).task_keys()
    assert keys[0] == FLAGS and keys[1] == LOGGING


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path):
    lines = SEED.read_bytes().split(b"\n")
    lines[29] = lines[29] + b" caf\xe9"
    path = tmp_path / "PROGRESS.md"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DocumentError) as err:
        ProgressDocument.load(path)
    assert err.value.line == 30
    assert err.value.message.startswith(f"not valid UTF-8 (byte 0xe9 at column {len(lines[29])}): a character there")
    assert "retype that character" in err.value.hint


def test_a_document_wholly_in_windows_1252_gets_the_command_that_converts_it(tmp_path: Path):
    path = tmp_path / "PROGRESS.md"
    path.write_bytes("# Build Progress\n\nNotes: café\n".encode("cp1252"))
    with pytest.raises(DocumentError) as err:
        ProgressDocument.load(path)
    assert "single-byte encoding (Windows-1252 or Latin-1" in err.value.message
    assert err.value.hint == f"convert it: iconv -f WINDOWS-1252 -t UTF-8 {path} > {path}.utf8 && mv {path}.utf8 {path}"
    converted = subprocess.run(["iconv", "-f", "WINDOWS-1252", "-t", "UTF-8", str(path)], capture_output=True, check=True)
    assert converted.stdout.decode("utf-8") == "# Build Progress\n\nNotes: café\n"


@pytest.mark.parametrize("what", ["folder", "device", "too large"])
def test_what_is_no_document_is_refused_before_reading(tmp_path: Path, what: str):
    path = {"folder": tmp_path, "device": Path("/dev/zero"), "too large": tmp_path / "PROGRESS.md"}[what]
    if what == "too large":
        with path.open("wb") as fh:
            fh.truncate(24_000_000)
    with pytest.raises(DocumentError) as err:
        ProgressDocument.load(path)
    assert {"folder": "is a folder", "device": "not a regular file", "too large": "is 24.0 MB"}[what] in err.value.message


def test_a_state_phase_without_a_section_is_an_error(seed: ProgressDocument):
    state = _state()
    state.phases.append(PhaseState(7, "in progress", 10))
    with pytest.raises(DocumentError) as err:
        seed.render(state)
    assert err.value.line == 1
    assert "no `## Phase 7: ...` section" in err.value.message


# --- write_atomic -------------------------------------------------------------------------------


def test_write_atomic_replaces_the_content_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "PROGRESS.md"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomic(path, "new ✅\r\n")
    assert path.read_bytes() == "new ✅\r\n".encode()
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["PROGRESS.md"]


def test_write_atomic_creates_a_new_file_readable_as_usual(tmp_path: Path):
    path = tmp_path / "PROGRESS.md"
    write_atomic(path, "fresh\n")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "fresh\n"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["PROGRESS.md"]


def test_write_atomic_writes_through_a_symlink(tmp_path: Path):
    real = tmp_path / "docs.md"
    real.write_text("old\n")
    link = tmp_path / "PROGRESS.md"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


# --- render_fresh -------------------------------------------------------------------------------


def test_a_fresh_document_is_the_seed_apart_from_the_aligned_plan_titles(plan):
    state = _state(current_phase="Phase 0 - Safety Infrastructure")
    state.last_updated = "2025-01-XX"
    fresh = render_fresh(plan, state)
    changes = _changes(_repaired_seed(), fresh)
    assert [a for a, _ in changes] == [_line(_repaired_seed(), f"Phase {n}:") for n in range(7)]
    bars = [b for _, b in changes]
    assert bars[5].startswith("Phase 5: Migration (One Type at a Time)  [")
    assert len({bar.index("[") for bar in bars}) == 1


def test_a_fresh_document_round_trips_and_lists_the_plans_tasks(plan):
    state = _state(
        {0: ("complete", 100), 1: ("in progress", 43)},
        {FLAGS: "done", LOGGING: "done", TABLES_TEST: "failed",
         TaskKey(1, "Add indexes", "Create `api_call_queue_v2` table (partitioned)"): "done"},
        [MigrationRow("quote", "in progress", "2026-11-29", "baking")],
        current_phase="Phase 1 - Foundation (Parallel)",
    )
    fresh = render_fresh(plan, state)
    doc = ProgressDocument.parse(fresh, Path("PROGRESS.md"))
    assert doc.render(state) == fresh and doc.is_current(state)
    assert doc.task_keys() == _plan_keys(plan)
    assert {k: m for k, m in doc.marks().items() if m != "open"} == {
        FLAGS: "done", LOGGING: "done", TABLES_TEST: "failed",
        TaskKey(1, "Add indexes", "Create `api_call_queue_v2` table (partitioned)"): "done"}
    assert "| `quote` | 🟡 In Progress | 2026-11-29 | baking |" in fresh
    assert "**Current Phase:** Phase 1 - Foundation (Parallel)" in fresh
    assert "**Overall Progress:** 20% (1/7 phases complete)" in fresh


# --- documents damaged by a misreading -----------------------------------------------------------


def _sloppy_1252(text: str) -> str:
    """UTF-8 read as Windows-1252 by a reader that keeps the five undefined bytes (as browsers do)."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))


MISREADINGS = {
    "mac roman": lambda t: t.encode("utf-8").decode("mac_roman"),
    "windows-1252": _sloppy_1252,
    "windows-1252, a character lost": lambda t: t.encode("utf-8").decode("cp1252", errors="replace"),
    "latin-1": lambda t: t.encode("utf-8").decode("latin-1"),
    "utf-8 decoded twice": lambda t: _sloppy_1252(_sloppy_1252(t)),
    "mac roman twice": lambda t: t.encode("utf-8").decode("mac_roman").encode("utf-8").decode("mac_roman"),
}


@pytest.mark.parametrize("misread", MISREADINGS.values(), ids=MISREADINGS.keys())
def test_a_misread_document_is_repaired_on_write(misread):
    good = _repaired_seed()
    damaged = misread(good)
    assert damaged != good
    doc = ProgressDocument.parse(damaged, SEED)
    state = _state({0: ("in progress", 29)}, {**dict.fromkeys(_plan_keys(PLAN), "open"), FLAGS: "done"})
    expected = ProgressDocument.parse(good, SEED).render(state)
    assert doc.render(state) == expected
    assert doc.damage() == []


def test_damage_left_in_the_users_own_text_is_named():
    text = _repaired_seed().replace("_Add notes here as you work..._", "Deployed ❌ on Monday", 1)
    damaged = text.replace("Deployed ❌", "Deployed " + "❌".encode("utf-8").decode("cp1252", errors="replace"))
    doc = ProgressDocument.parse(damaged, SEED)
    [(line, problem)] = doc.damage()
    assert damaged.split("\n")[line - 1].startswith("Deployed â")
    assert "U+FFFD" in problem
