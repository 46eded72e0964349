"""PROGRESS.md kept true: the user's seed document through `toolkit progress ...`."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, Cli
from toolkit.progress.document import NOT_APPLICABLE_MARKER
from toolkit.textfix import repair

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"
DAMAGED = ("\uf8ffüî¥", "‚ñë", "‚úÖ", "‚ùå")


@pytest.fixture
def document(tmp_path, monkeypatch):
    path = tmp_path / "PROGRESS.md"
    shutil.copy(SEED, path)
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(path))
    return path


def test_sync_after_phase_0_ticks_exactly_its_applied_tasks(cli, document):
    assert cli("phase", "apply", "0").exit_code == 0  # apply keeps the document in step by itself
    result = cli("--json", "progress", "sync")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed"] is False  # already synced by apply

    seed = SEED.read_text(encoding="utf-8").splitlines()
    after = document.read_text(encoding="utf-8").splitlines()
    assert len(after) == len(seed)
    changed = {i: (a, b) for i, (a, b) in enumerate(zip(seed, after)) if repair(a) != b}
    changed_text = [b for a, b in changed.values()]
    assert "- [x] Create `feature_flags` table" in changed_text
    assert "- [x] Create monitoring/logging infrastructure" in changed_text
    assert "- [x] Set up health check Edge Function" in changed_text  # served by the local gateway, verified
    assert sum(line.startswith("- [x]") for line in after) == 3
    status = [b for b in changed_text if b.startswith("**Status:**")]
    assert status == ["**Status:** 🟡 In Progress"]
    bar = next(b for b in changed_text if b.startswith("Phase 0:"))
    assert "[████░░░░░░] 43%" in bar
    assert any(b.startswith("**Overall Progress:** 6% (0/7 phases complete)") for b in changed_text)
    assert any(b.startswith("**Last Updated:**") for b in changed_text)
    # The pg_net lines belong to the postgres scheduler mode: shown as not applicable, unticked.
    not_applicable = [b for b in changed_text if b.endswith(NOT_APPLICABLE_MARKER)]
    assert [b.startswith("- [ ] ") for b in not_applicable] == [True, True]
    assert any("`pg_net`" in b for b in not_applicable) and any("USAGE ON SCHEMA net" in b for b in not_applicable)
    # Nothing else moved: exactly the owned lines changed (Last Updated, the bar, Overall, the
    # Status, three ticks with the health check's); the user's "Mark as migrated ✅" keeps its marker.
    assert len(changed) == 7 + len(not_applicable), changed
    assert "- [ ] If successful: Mark as migrated ✅" in after
    text = document.read_text(encoding="utf-8")
    for good in ("🔴", "🟡", "░", "█", "✅/❌"):
        assert good in text
    for bad in DAMAGED:
        assert bad not in text


def test_check_reports_an_out_of_date_document(cli, document):
    assert cli("progress", "sync", "--check").exit_code == 1  # the seed's "2025-01-XX" and damage
    assert cli("progress", "sync").exit_code == 0
    assert cli("progress", "sync", "--check").exit_code == 0
    assert cli("phase", "apply", "0", "--dry-run").exit_code == 0
    assert cli("progress", "sync", "--check").exit_code == 0


def test_a_document_it_cannot_understand_is_left_untouched(cli, document):
    lines = SEED.read_text(encoding="utf-8").splitlines(keepends=True)
    heading = next(i for i, l in enumerate(lines) if l.startswith("## Phase 3:"))
    status = next(i for i in range(heading, len(lines)) if lines[i].startswith("**Status:**"))
    del lines[status]  # the toolkit owns this line: without it, it cannot say where phase 3 stands
    document.write_text("".join(lines), encoding="utf-8")
    before = document.read_bytes()
    result = cli("progress", "sync")
    assert result.exit_code == 2
    assert f"{document}:{heading + 1}: the Phase 3 section has no **Status:** line" in result.stderr
    assert document.read_bytes() == before
    # An apply still succeeds; it only warns that the document could not follow.
    applied = cli("phase", "apply", "0")
    assert applied.exit_code == 0 and "was not updated" in applied.stderr
    assert document.read_bytes() == before


def test_undecodable_document_names_the_line(cli, document):
    document.write_bytes(b"# Build Progress\n\nfine\n\xff\xfe broken\n")
    result = cli("progress", "sync")
    assert result.exit_code == 2 and f"{document}:4:" in result.stderr
    assert document.read_bytes() == b"# Build Progress\n\nfine\n\xff\xfe broken\n"


def test_init_writes_a_fresh_document_in_the_same_format(cli, tmp_path, monkeypatch):
    fresh = tmp_path / "fresh" / "PROGRESS.md"
    fresh.parent.mkdir()
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(fresh))
    assert cli("phase", "apply", "0..1").exit_code == 0
    assert cli("progress", "init").exit_code == 0
    text = fresh.read_text(encoding="utf-8")
    assert "## Phase 6: Full Migration" in text and "| `exchange-market-status` |" in text
    assert "- [x] Create `data_type_registry_v2` table" in text
    assert cli("progress", "sync", "--check").exit_code == 0
    refused = cli("progress", "init")
    assert refused.exit_code == 2 and "exists already" in refused.stderr
    assert cli("progress", "init", "--force").exit_code == 0


def test_report_from_the_database(cli, document):
    assert cli("phase", "apply", "0..1").exit_code == 0
    report = json.loads(cli("--json", "progress").stdout)
    phases = {p["phase"]: p for p in report["phases"]}
    assert phases[0]["status"] == "in progress" and phases[0]["percent"] == 43  # 3 of 7: SQL and the health check
    assert phases[1]["status"] == "in progress"  # applied, but its manual test is not confirmed
    assert report["current_phase"] == "Phase 0 - Safety Infrastructure"
    assert len(report["migration"]) == 11 and report["blockers"] == []


def test_a_checklist_result_ticks_its_line(cli, document):
    assert cli("phase", "apply", "0..1").exit_code == 0
    line = "Manual test: Can insert/query all tables"
    assert f"- [ ] {line} ✅/❌" in document.read_text(encoding="utf-8")
    manual = sum(i["manual"] for i in json.loads(cli("--json", "checklist", "list").stdout) if i["name"] == "phase1-manual")
    failed = cli("checklist", "run", "phase1-manual", input="fail\nbroken\n" + "pass\n\n" * (manual - 1))
    assert failed.exit_code == 1
    assert f"- [ ] {line} ❌" in document.read_text(encoding="utf-8")
    passed = cli("checklist", "run", "phase1-manual", input="pass\n\n" * manual)
    assert passed.exit_code == 0, passed.output
    text = document.read_text(encoding="utf-8")
    assert f"- [x] {line} ✅" in text
    assert "**Status:** 🟢 Complete" in text.split("## Phase 1:")[1].split("## Phase 2:")[0]


def test_reading_progress_and_migrations_creates_nothing(cli, db, document):
    assert cli("--json", "progress").exit_code == 0
    assert cli("--json", "migrations").exit_code == 0
    assert cli("progress", "sync", "--check").exit_code == 1
    assert db.scalar("SELECT to_regnamespace('toolkit')") is None


def _tick(document, line: str) -> None:
    text = document.read_text(encoding="utf-8")
    assert f"- [ ] {line}" in text
    document.write_text(text.replace(f"- [ ] {line}", f"- [x] {line}", 1), encoding="utf-8")


def test_a_hand_tick_on_a_line_the_toolkit_cannot_check_survives_and_counts(cli, document):
    assert cli("phase", "apply", "0").exit_code == 0
    _tick(document, "Document rollback procedures")  # a document step, not built: the user's word
    _tick(document, "Manual test: Can insert/query all tables ✅/❌")  # manual, no checklist run yet
    result = cli("progress", "sync")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    text = document.read_text(encoding="utf-8")
    assert "- [x] Document rollback procedures" in text
    assert "- [x] Manual test: Can insert/query all tables ✅/❌" in text
    assert "Phase 0: Safety Infrastructure        [██████░░░░] 57%" in text  # 4 of 7, the hand tick counted
    assert cli("progress", "sync", "--check").exit_code == 0


def test_a_hand_tick_the_database_contradicts_is_reported_and_kept_unless_fixed(cli, document):
    assert cli("phase", "apply", "0").exit_code == 0
    _tick(document, "Create `data_type_registry_v2` table")  # phase 1 is not applied
    _tick(document, "Add indexes")                            # nor is the queue its sub-item belongs to
    before = document.read_text(encoding="utf-8")
    result = cli("progress", "sync")
    assert result.exit_code == 0, result.output
    lines = before.splitlines()
    registry = lines.index("- [x] Create `data_type_registry_v2` table") + 1
    warning = (f"warning: {document}:{registry}: `- [x] Create `data_type_registry_v2` table` is ticked, but step "
               "data_type_registry of phase 1 is not applied (`toolkit phase apply 1`)")
    assert warning in " ".join(result.stderr.split()), result.stderr
    assert "Add indexes" in result.stderr and "--fix" in result.stderr
    assert document.read_text(encoding="utf-8") == before  # kept
    checked = cli("progress", "sync", "--check")
    assert checked.exit_code == 1 and "contradicted by the database" in checked.stderr

    fixed = cli("progress", "sync", "--fix")
    assert fixed.exit_code == 0 and "warning" not in fixed.stderr
    text = document.read_text(encoding="utf-8")
    assert "- [ ] Create `data_type_registry_v2` table" in text and "  - [ ] Add indexes" in text
    assert cli("progress", "sync", "--check").exit_code == 0


def test_apply_keeps_a_contradicting_tick_and_says_so(cli, document):
    _tick(document, "Create `data_type_registry_v2` table")
    applied = cli("phase", "apply", "0")
    assert applied.exit_code == 0
    assert "1 ticked line(s) contradict the database and were kept" in applied.stderr
    assert "- [x] Create `data_type_registry_v2` table" in document.read_text(encoding="utf-8")


def test_a_document_misread_as_windows_1252_is_repaired_by_sync(cli, document):
    good = repair(SEED.read_text(encoding="utf-8"))
    misread = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in good.encode("utf-8"))
    assert "â–‘" in misread
    document.write_text(misread, encoding="utf-8")
    result = cli("progress", "sync")
    assert result.exit_code == 0, result.output
    text = document.read_text(encoding="utf-8")
    assert "[░░░░░░░░░░] 0%" in text and "🔴 Not Started" in text and "✅/❌" in text and "â" not in text
