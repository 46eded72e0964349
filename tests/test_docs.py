"""The Phase 0 documents (toolkit docs render), the baseline (toolkit baseline) and the external
monitoring workflow, against the real local stack; the probe the workflow runs is run against
the real functions gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import Cli, ROOT, free_port, requires_deno
from toolkit.baseline import capture, runs_per_day
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.docs import DOCUMENTS, revert_effects
from toolkit.states import DOC_CURRENT, DOC_MISSING, DOC_STALE, doc_state

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"
SECRET = "docs-test-secret-0123456789abcdef0123456789"


@pytest.fixture
def workspace(project, tmp_path, monkeypatch):
    """A project with its own checklists, PROGRESS.md kept in the test's folder."""
    shutil.copytree(ROOT / "checklists", project / "checklists")
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    return project


def _files(workspace) -> dict[str, str]:
    return {p: (workspace / p).read_text() for files in DOCUMENTS.values()
            for p in (f.format(dir="docs/rollout") for f in files) if (workspace / p).is_file()}


def _states(cli) -> dict[str, str]:
    result = cli("--json", "docs", "status")
    return {d["document"]: d["state"] for d in json.loads(result.stdout)}


def test_every_document_renders_from_a_fresh_database(db, workspace):
    cli = Cli(db, workspace / "phases.yaml")
    assert _states(cli) == {name: DOC_MISSING for name in DOCUMENTS}
    rendered = cli("--json", "docs", "render")
    assert rendered.exit_code == 0, rendered.output
    assert {w["document"]: w["result"] for w in json.loads(rendered.stdout)} == {name: "written" for name in DOCUMENTS}
    assert _states(cli) == {name: DOC_CURRENT for name in DOCUMENTS}
    assert cli("docs", "status").exit_code == 0
    files = _files(workspace)
    assert len(files) == 5

    plan = load_plan(workspace / "phases.yaml").plan
    checklists = files["docs/rollout/checklists.md"]
    for path in sorted((workspace / "checklists").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        assert f"## {spec['name']}" in checklists
        for item in spec["items"]:
            assert f"`{item['id']}`" in checklists
    assert "No finished run yet." in checklists
    rollback = files["docs/rollout/rollback.md"]
    for d in plan.data_types:
        assert f"`toolkit rollback {d.name} --reason \"...\"` | legacy job `{d.legacy_job}` (`{d.legacy_schedule}`)" in rollback
    for phase in plan.phases:
        assert f"### Phase {phase.id}: {phase.title}" in rollback
    assert "public.api_call_queue_v2" in rollback and "use_queue_system" in rollback
    baseline = files["docs/rollout/baseline.md"]
    assert "| `quote` | `refresh-stock-quotes` | `* * * * *` | yes | 1,440 | 20 | 1 | 20 | 28,800 |" in baseline
    assert db.scalar("SELECT count(*) FROM toolkit.baselines") == 1
    # Rendering again changes nothing; the second render captures no second baseline.
    again = cli("--json", "docs", "render")
    assert {w["result"] for w in json.loads(again.stdout)} == {"up to date"}
    assert db.scalar("SELECT count(*) FROM toolkit.baselines") == 1 and _files(workspace) == files


def test_documents_from_a_migrated_state_and_a_changed_checklist_makes_one_stale(staleness_db, workspace, tmp_path):
    shutil.copy(SEED, tmp_path / "PROGRESS.md")
    cli = Cli(staleness_db, workspace / "phases.yaml")
    assert cli("migrate", "quote", "--force", "--reason", "phase 4 is not what this test is about").exit_code == 0
    ran = cli("checklist", "run", "phase1-manual", "--non-interactive")
    assert "incomplete" in ran.stdout
    assert cli("docs", "render").exit_code == 0
    files = _files(workspace)
    assert "Latest run: **incomplete**" in files["docs/rollout/checklists.md"]
    assert "| `registry_lists_types` | pass | 11 registry rows, every planned type among them |" in files["docs/rollout/checklists.md"]
    assert "| `quote` | `refresh-stock-quotes` | `* * * * *` | no |" in files["docs/rollout/baseline.md"]

    assert cli("progress", "sync").exit_code == 0
    document = (tmp_path / "PROGRESS.md").read_text()
    assert "- [x] Create manual testing checklists document" in document
    assert "- [x] Document rollback procedures" in document and "- [x] Document current system behavior (baseline)" in document
    assert "- [x] Configure external monitoring (UptimeRobot/GitHub Actions)" in document
    assert cli("progress", "sync", "--check").exit_code == 0
    assert cli("phase", "verify", "0").exit_code == 0

    # A checklist run moves the results on: the current document follows by itself.
    cli("checklist", "run", "phase2-manual", "--non-interactive")
    section = _files(workspace)["docs/rollout/checklists.md"].split("## phase2-manual")[1].split("\n## ")[0]
    assert "Latest run: **incomplete** (run 2," in section
    assert _states(cli)["checklists"] == DOC_CURRENT

    # An edited checklist makes the document stale until it is rendered again.
    spec = workspace / "checklists/phase1-manual.yaml"
    spec.write_text(spec.read_text().replace("Phase 1: can insert and query all tables", "Phase 1: tables work"))
    assert _states(cli) == {**{n: DOC_CURRENT for n in DOCUMENTS}, "checklists": DOC_STALE}
    checked = cli("progress", "sync", "--check")
    assert checked.exit_code == 1 and "document manual_checklists is stale" in checked.stderr
    assert "toolkit docs render" in checked.stderr
    verified = cli("--json", "phase", "verify", "0")
    assert verified.exit_code == 1
    row = next(r for r in json.loads(verified.stdout) if r["step"] == "manual_checklists")
    assert row["result"] == "fail" and row["message"].startswith("stale")
    # The document's tick now contradicts the database: kept as the user has it, and reported.
    assert "- [x] Create manual testing checklists document" in (tmp_path / "PROGRESS.md").read_text()
    synced = cli("progress", "sync")
    assert synced.exit_code == 0 and "Create manual testing checklists document" in synced.stderr
    assert "is stale" in " ".join(synced.stderr.split())
    cli("checklist", "run", "phase2-manual", "--non-interactive")  # changes the rollout: the stale one waits
    assert _states(cli)["checklists"] == DOC_STALE

    assert cli("docs", "render", "checklists").exit_code == 0
    assert "Phase 1: tables work" in _files(workspace)["docs/rollout/checklists.md"]
    assert cli("phase", "verify", "0").exit_code == 0
    assert cli("progress", "sync", "--check").exit_code == 0
    assert "- [x] Create manual testing checklists document" in (tmp_path / "PROGRESS.md").read_text()


# -- the baseline ------------------------------------------------------------------------------------

def _day_fraction(dom: str, dow: str) -> float:
    """Days a schedule runs on, per day, for the shapes the example app uses: every day, one
    weekday, or one day of every month (12 months in 365.2425 days)."""
    if dom == "*" and dow == "*":
        return 1.0
    if dom == "*":
        return 1 / 7
    return 12 / 365.2425


def _expected_runs_per_day(schedule: str) -> float:
    minute, hour, dom, _, dow = schedule.split()
    minutes = 60 if minute == "*" else 60 // int(minute[2:]) if minute.startswith("*/") else 1
    hours = 24 if hour == "*" else 1
    return minutes * hours * _day_fraction(dom, dow)


def test_baseline_figures_equal_direct_sql(db):
    loaded = load_plan(ROOT / "phases.yaml")
    plan = loaded.plan
    taken = capture(plan, target_from_url(db.url), "pytest")
    stored = db.scalar("SELECT to_jsonb(b) FROM toolkit.baselines AS b WHERE id = %s", [taken["id"]])
    at = db.scalar("SELECT captured_at FROM toolkit.baselines WHERE id = %s", [taken["id"]])

    direct_jobs = db.rows("SELECT jobid, jobname, schedule, command, username, active FROM cron.job ORDER BY jobname, jobid")
    assert [(j["jobid"], j["jobname"], j["schedule"], j["command"], j["owner"], j["active"]) for j in stored["jobs"]] == \
        [tuple(r) for r in direct_jobs]
    assert {j["jobname"] for j in stored["jobs"]} >= {d.legacy_job for d in plan.data_types}

    total = 0.0
    for d in plan.data_types:
        t = stored["tables"][d.name]
        assert t["row_count"] == db.scalar(f"SELECT count(*) FROM public.{d.table}")
        keys = 1 if d.key_column is None else db.scalar(f"SELECT count(DISTINCT {d.key_column}) FROM public.{d.table}")
        assert t["keys"] == keys
        assert t["size_bytes"] == db.scalar("SELECT pg_total_relation_size(%s::regclass)", [f"public.{d.table}"])
        p50, p90 = db.rows(f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM %s - {d.timestamp_column})), "
                           f"percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM %s - {d.timestamp_column})) "
                           f"FROM public.{d.table}", [at, at])[0]
        assert t["age_seconds"]["p50"] == pytest.approx(float(p50)) and t["age_seconds"]["p90"] == pytest.approx(float(p90))
        assert t["newest_age_seconds"] == pytest.approx(
            db.scalar(f"SELECT extract(epoch FROM %s - max({d.timestamp_column}))::float8 FROM public.{d.table}", [at]))

        schedule = db.scalar("SELECT schedule FROM cron.job WHERE jobname = %s", [d.legacy_job])
        calls = _expected_runs_per_day(schedule) * keys * len(d.endpoints)
        implied = next(i for i in stored["implied"]["types"] if i["data_type"] == d.name)
        assert implied["calls_per_day"] == pytest.approx(calls, rel=1e-9), d.name
        assert implied["bytes_per_window"] == pytest.approx(calls / len(d.endpoints) * d.estimated_bytes * 30, rel=1e-9)
        total += calls
    assert stored["implied"]["calls_per_day"] == pytest.approx(total)
    assert total == pytest.approx(28800 + 20 + 60 / 7 + 20 + 17 + 20 + 20 / 7 + 20 + 20 / 7 + 12 / 365.2425 + 2880)


@pytest.mark.parametrize("schedule, per_day", [
    ("* * * * *", 1440), ("*/5 * * * *", 288), ("17 * * * *", 24), ("0 3 * * *", 1), ("0,30 9-17 * * *", 18),
    ("0 4 * * 0", 1 / 7), ("0 4 * * 7", 1 / 7), ("0 4 * * 1-5", 5 / 7), ("0 8 1 * *", 12 / 365.2425),
    ("0 0 1 1 *", 1 / 365.2425), ("@daily", 1), ("@hourly", 24),
    ("0 0 29 2 *", 97 / 146097),          # leap days: 97 in 400 years
    ("0 0 13 * 5", None),                 # either the 13th or a Friday (pg_cron's rule when both are set)
])
def test_runs_per_day_of_cron_schedules(schedule, per_day):
    if per_day is None:
        thirteenths = 12 / 365.2425
        fridays = 1 / 7
        friday_13ths = 688 / 146097       # Fridays the 13th in 400 years
        per_day = thirteenths + fridays - friday_13ths
    assert runs_per_day(schedule) == pytest.approx(per_day)


def test_baseline_compare_shows_today_against_it(staleness_db, workspace):
    cli = Cli(staleness_db, workspace / "phases.yaml")
    assert cli("baseline", "compare").exit_code == 2  # nothing captured yet
    captured = cli("--json", "baseline", "capture")
    assert captured.exit_code == 0, captured.output
    assert (workspace / "docs/rollout/baseline.md").is_file()
    before = json.loads(captured.stdout)["implied"]["calls_per_day"]
    assert cli("migrate", "quote", "--force", "--reason", "phase 4 is not what this test is about").exit_code == 0
    compared = cli("--json", "baseline", "compare")
    assert compared.exit_code == 0, compared.output
    result = json.loads(compared.stdout)
    assert result["calls_per_day_then"] == pytest.approx(before)
    assert result["legacy_calls_per_day_now"] == pytest.approx(before - 1440 * 20)  # quote's job is paused
    quote = next(t for t in result["types"] if t["data_type"] == "quote")
    assert (quote["legacy_active_then"], quote["legacy_active_now"]) == (True, False)
    assert cli("baseline", "show").exit_code == 0


# -- the external monitoring ----------------------------------------------------------------------



def _every(minute_field: str) -> list[int]:
    """The minutes of an hour a cron minute field runs at (the shapes a workflow uses)."""
    if minute_field == "*":
        return list(range(60))
    if minute_field.startswith("*/"):
        return list(range(0, 60, int(minute_field[2:])))
    return sorted(int(m) for m in minute_field.split(","))


def _probe(workflow: dict, env: dict) -> subprocess.CompletedProcess:
    step = workflow["jobs"]["probe"]["steps"][0]
    step_env = {k: str(v) for k, v in step["env"].items()}
    return subprocess.run(["bash", "-c", step["run"]], env={"PATH": os.environ["PATH"], **step_env, **env},
                          capture_output=True, text=True, timeout=120)


@requires_deno
def test_the_monitoring_workflow_probes_the_health_check(staleness_db, workspace):
    token = "probe-token-for-the-test"
    with serve(staleness_db.url, names=load_plan(workspace / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
               env={"HEALTH_CHECK_PROBE_TOKEN": token}, folder=workspace / "templates/edge") as healthy, \
            serve(f"postgresql://postgres:nope@127.0.0.1:{free_port()}/postgres?sslmode=disable",
                  names=load_plan(workspace / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
                  folder=workspace / "templates/edge") as down:
        plan = workspace / "phases.yaml"
        plan.write_text(plan.read_text().replace(
            "    # functions_url: https://<ref>.supabase.co/functions/v1",
            f"    functions_url: {healthy.functions_url}"))
        cli = Cli(staleness_db, plan)
        assert cli("docs", "render", "monitoring-workflow").exit_code == 0
        text = (workspace / ".github/workflows/health-check.yml").read_text()
        workflow = yaml.safe_load(text)

        # Valid, scheduled at most every 5 minutes, secrets by name only.
        crons = [s["cron"] for s in workflow["on"]["schedule"]]
        assert crons and all(c.split()[1:] == ["*", "*", "*", "*"] for c in crons)
        minutes = sorted({m for c in crons for m in _every(c.split()[0])})
        gaps = [(b - a) % 60 or 60 for a, b in zip(minutes, minutes[1:] + minutes[:1])]
        assert min(gaps) >= 5 and max(gaps) <= 5
        assert "${{ secrets.HEALTH_CHECK_PROBE_TOKEN }}" in text and token not in text
        assert workflow["jobs"]["probe"]["steps"][0]["env"]["HEALTH_CHECK_URL"] == f"{healthy.functions_url}/health-check"
        assert f"{healthy.functions_url}/health-check" in (workspace / "docs/rollout/monitoring.md").read_text()

        fast = {"PROBE_ATTEMPTS": "1"}
        passed = _probe(workflow, {**fast, "HEALTH_CHECK_PROBE_TOKEN": token})
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "healthy" in passed.stdout
        without_token = _probe(workflow, {**fast, "HEALTH_CHECK_PROBE_TOKEN": ""})
        assert without_token.returncode == 1 and "HTTP 401" in without_token.stdout
        database_down = _probe(workflow, {**fast, "HEALTH_CHECK_URL": f"{down.functions_url}/health-check"})
        assert database_down.returncode == 1 and "HTTP 503" in database_down.stdout
        assert "database unreachable" in database_down.stdout
        retried = _probe(workflow, {"PROBE_ATTEMPTS": "2", "PROBE_RETRY_SECONDS": "0",
                                    "HEALTH_CHECK_URL": f"{down.functions_url}/health-check"})
        assert retried.returncode == 1 and retried.stdout.count("attempt") == 2


# -- pure parts ------------------------------------------------------------------------------------

def test_document_state_from_the_digests_its_files_carry():
    assert doc_state([None], "abc") == DOC_MISSING
    assert doc_state(["abc", None], "abc") == DOC_MISSING
    assert doc_state(["abc", "abc"], "abc") == DOC_CURRENT
    assert doc_state(["abc", "abd"], "abc") == DOC_STALE
    assert doc_state([""], "abc") == DOC_STALE          # a file without a digest: not the toolkit's rendering
    assert doc_state(["abc"], None) == DOC_STALE        # cannot be rendered now (no baseline)


def test_revert_effects_read_from_a_revert_script():
    sql = ("-- comment\nDROP FUNCTION IF EXISTS public.f_v2(text);\nDROP TABLE IF EXISTS pg_temp.scratch;\n"
           "SELECT toolkit.retire_table(t) FROM to_regclass('public.t_v2') AS t WHERE t IS NOT NULL;\n"
           "SELECT cron.unschedule(j.jobid) FROM cron.job AS j WHERE to_regnamespace('cron') IS NOT NULL "
           "AND j.jobname IN ('queue-a_v2', 'queue-b_v2');\n")
    effects = revert_effects(sql)
    assert effects == {"comment": "", "archived": ["public.t_v2"], "dropped": ["function public.f_v2"],
                       "unscheduled": ["queue-a_v2", "queue-b_v2"]}
    assert revert_effects("-- Puts it back.\n-- All of it.\nSELECT 1;\n")["comment"] == "Puts it back. All of it."
