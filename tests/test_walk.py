"""A walk of the user's PROGRESS.md (tests/fixtures/PROGRESS.seed.md) from Phase 0 to Phase 6 on
the local stack, through the commands a user runs: phases applied (their Edge Functions served
and verified by the local gateway, phase 4's module tested against the local stack), documents
rendered, every checklist run with its manual items answered through the checklist runner, the
eleven types migrated and promoted (a test plan bakes them in 72 ms), the final migration
applied, and the documents rendered again: every phase Complete.
"""

from __future__ import annotations

import json
import re
import shutil


from tests.conftest import Cli, ROOT, free_port, requires_deno
from tests.test_final_migration import API_KEY, fast_bake_project, process_one_job_per_type, promote_every_type
from toolkit.config import load_plan
from toolkit.db import connect, target_from_url
from toolkit.dev.gateway import serve
from toolkit.dev.jwt import local_jwt_secret
from toolkit.dev.sandbox import SandboxServer
from toolkit.final import deployed_plan, moved_functions

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"




def section(text: str, phase: int) -> str:
    return text.split(f"## Phase {phase}:")[1].split("\n---\n")[0]


def status(text: str, phase: int) -> str:
    return re.search(r"\*\*Status:\*\* (.+)", section(text, phase)).group(1)


def open_tasks(text: str, phase: int) -> list[str]:
    """The open task lines of a phase (not their sub-items, nor the lines not applicable in the
    plan's scheduler mode)."""
    return [line.split("] ", 1)[1] for line in section(text, phase).splitlines()
            if line.startswith("- [ ]") and "not applicable" not in line]


def answer_all(cli: Cli, checklist: str, manual: int) -> str:
    """Run a checklist, answering each manual item `pass` with a note, as a person would."""
    result = cli("checklist", "run", checklist, input="pass\nconfirmed in the walk\n" * manual)
    assert result.exit_code == 0, result.output
    return result.stdout


@requires_deno
def test_progress_md_walks_from_phase_0_to_phase_6(cluster, db, project, tmp_path, monkeypatch):
    document = tmp_path / "PROGRESS.md"
    shutil.copy(SEED, document)
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(document))
    monkeypatch.setenv("TOOLKIT_LOCAL_HOME", str(cluster.home))  # phase 4's module is tested on it
    workspace = fast_bake_project(project)
    port = free_port()
    plan_file = workspace / "phases.yaml"
    plan_file.write_text(plan_file.read_text().replace(
        "  # processor_url: the queue-processor function's URL (default: the local gateway's)",
        f"  processor_url: http://127.0.0.1:{port}/functions/v1/queue-processor-v2"))
    cli = Cli(db, plan_file)
    target = target_from_url(db.url)
    read = document.read_text

    # Phase 0: the flags, the event log and the health check, then the documents.
    assert cli("phase", "apply", "0").exit_code == 0
    assert status(read(), 0) == "🟡 In Progress"
    assert cli("docs", "render").exit_code == 0
    assert open_tasks(read(), 0) == [] and status(read(), 0) == "🟢 Complete"
    assert "**Current Phase:** Phase 1 - Foundation (Parallel)" in read()

    # Phases 1-3, each confirmed by its checklists.
    assert cli("phase", "apply", "1").exit_code == 0
    answer_all(cli, "phase1-manual", 2)
    assert status(read(), 1) == "🟢 Complete" and open_tasks(read(), 1) == []
    assert cli("phase", "apply", "2").exit_code == 0
    answer_all(cli, "phase2-manual", 2)
    assert open_tasks(read(), 2) == [] and status(read(), 2) == "🟢 Complete"
    assert cli("phase", "apply", "3").exit_code == 0
    answer_all(cli, "phase3-staleness", 1)
    answer_all(cli, "phase3-queue-populated", 2)
    assert open_tasks(read(), 3) == [] and status(read(), 3) == "🟢 Complete"
    assert "Enable `pg_net` extension (if using \"All in Postgres\") _(not applicable" in read()  # external mode

    # Phase 4: the module tested against the local stack and rendered; its checklists read the run.
    applied = cli("phase", "apply", "4")
    assert applied.exit_code == 0, applied.output
    for name in ("phase4-presence-tracking", "phase4-existing-realtime", "phase4-flag-disable"):
        answer_all(cli, name, 0)
    answer_all(cli, "phase4-browser", 8)  # the optional confirmation in the app, given here
    assert open_tasks(read(), 4) == [] and status(read(), 4) == "🟢 Complete"
    assert "**Current Phase:** Phase 5 - Migration (One Type at a Time)" in read()

    # Phase 5: every type migrated and promoted, on real refreshes.
    loaded = load_plan(plan_file)
    secret = local_jwt_secret(workspace)
    with SandboxServer(api_key=API_KEY) as sandbox:
        process_one_job_per_type(db, loaded, target, sandbox)
        promote_every_type(loaded, target)
        assert cli("progress", "sync").exit_code == 0
        assert status(read(), 5) == "🟢 Complete"
        assert read().count("🟢 Migrated") == 11

        # Phase 6: the final migration, the documents again, its three checklists (one of them
        # refreshes a quote end to end through the processor under the new names).
        applied = cli("phase", "apply", "6")
        assert applied.exit_code == 0, applied.output
        # The documents name the old objects: stale, which the document's ticks now contradict
        # (kept as written, and reported).
        checked = cli("progress", "sync", "--check")
        assert checked.exit_code == 1 and "is stale" in checked.stderr and "toolkit docs render" in checked.stderr
        assert status(read(), 0) == "🟡 In Progress"
        early = cli("--json", "checklist", "run", "phase6-documentation", "--non-interactive")
        item = next(i for i in json.loads(early.stdout)["items"] if i["id"] == "rollout_documents_current")
        assert early.exit_code == 1 and item["result"] == "fail" and "checklists: stale" in item["evidence"]
        assert cli("docs", "render").exit_code == 0
        assert open_tasks(read(), 0) == []
        with connect(target, autocommit=True) as conn:
            deployed = deployed_plan(loaded, conn).plan
        # Before the functions answer under their new names, the refresh cycle fails.
        early = cli("--json", "checklist", "run", "phase6-final-testing", "--non-interactive")
        item = next(i for i in json.loads(early.stdout)["items"] if i["id"] == "full_refresh_cycle")
        assert item["result"] == "fail" and "the processor could not be called" in item["evidence"]
        with serve(db.url, names=deployed.names, port=port, jwt_secret=secret, market_data_url=sandbox.url,
                   api_key=API_KEY, folder=workspace / "templates/edge", moved=moved_functions(deployed)):
            answer_all(cli, "phase6-documentation", 1)
            testing = answer_all(cli, "phase6-final-testing", 1)
            assert "completed through the processor" in testing
            answer_all(cli, "phase6-production", 3)

    text = read()
    for phase in range(7):
        assert status(text, phase) == "🟢 Complete" and open_tasks(text, phase) == [], (phase, open_tasks(text, phase))
    assert "**Current Phase:** All phases complete" in text
    assert "(7/7 phases complete)" in text
    assert cli("progress", "sync", "--check").exit_code == 0
