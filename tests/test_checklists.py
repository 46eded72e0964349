"""Checklists against a real PostgreSQL: the files, the runner (checks always rolled back,
answers stored as they come, resumable runs) and `toolkit checklist`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, Cli
from toolkit import ledger
from toolkit.checklists import cron_period_seconds, latest_results, load_all
from toolkit.errors import ConfigError

TICKS = {
    "phase1-manual": (1, "manual_test_tables"),
    "phase2-manual": (2, "manual_test_queue"),
    "phase3-staleness": (3, "manual_test_staleness"),
    "phase3-queue-populated": (3, "manual_test_queue_populated"),
    "phase4-presence-tracking": (4, "test_presence_tracking"),
    "phase4-existing-realtime": (4, "test_existing_realtime"),
    "phase4-flag-disable": (4, "test_flag_disable"),
    "phase4-browser": None,
    "phase6-documentation": (6, "update_documentation"),
    "phase6-final-testing": (6, "final_testing"),
    "phase6-production": (6, "production_deployment"),
    "migration": None,
    "rollback-drill": None,
    "phase-gate": None,
}
PHASE1_MANUAL = ["table_editor_lists_tables", "api_reads_registry"]

# Everything an automated check of phases 1-3 may touch: equal before and after a run, or
# something a check did was not rolled back.
FOOTPRINT = """
SELECT (SELECT count(*) FROM public.api_call_queue_v2) AS jobs,
       (SELECT count(*) FROM public.active_subscriptions_v2) AS subscriptions,
       (SELECT count(*) || '/' || max(updated_at) FROM public.stock_quotes) AS quotes,
       (SELECT count(*) || '/' || max(updated_at) FROM public.exchange_market_status) AS market_status,
       (SELECT string_agg(flag_name, ',' ORDER BY flag_name) FROM public.feature_flags WHERE enabled) AS flags_on,
       (SELECT count(*) FROM public.feature_flag_audit) AS flag_audit,
       (SELECT string_agg(data_type || '=' || target_table, ',' ORDER BY data_type) FROM public.data_type_registry_v2) AS registry,
       (SELECT count(*) FROM public.api_data_usage_v2) AS usage,
       (SELECT count(*) FROM public.ops_events) AS events,
       (SELECT count(*) FROM public.presence_analytics_v2) AS analytics,
       (SELECT row_to_json(s)::text FROM public.staleness_state_v2 AS s) AS staleness_state,
       (SELECT row_to_json(q)::text FROM public.api_quota_state_v2 AS q) AS quota_state
"""


def _cli(db, plan: Path = ROOT / "phases.yaml") -> Cli:
    return Cli(db, plan)


def _run_json(cli: Cli, *args: str, input: str | None = None):
    result = cli("--json", "checklist", "run", *args, input=input)
    return result, json.loads(result.stdout)


def _items(payload: dict) -> dict[str, dict]:
    return {i["id"]: i for i in payload["items"]}


def _failed_automated(payload: dict) -> list[tuple[str, str]]:
    return [(i["id"], i["evidence"]) for i in payload["items"] if i["kind"] == "automated" and i["result"] != "pass"]


def _answers(db) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in db.rows("SELECT item_id, result, note FROM toolkit.checklist_answers ORDER BY run_id")}


def _write(project: Path, name: str, text: str) -> Path:
    folder = project / "checklists"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


# -- the files -------------------------------------------------------------------------------

def test_every_checklist_loads_and_ticks_its_manual_step():
    lists = {c.name: c for c in load_all(ROOT)}
    assert {name: (c.ticks.phase, c.ticks.step) if c.ticks else None for name, c in lists.items()} == TICKS
    assert {name for name, c in lists.items() if c.per_type} == {"migration", "rollback-drill"}
    assert [i.id for i in lists["phase1-manual"].items if i.manual] == PHASE1_MANUAL
    assert not any(i.manual for i in lists["phase-gate"].items)  # a gate CI can run unattended


def test_a_malformed_checklist_exits_2_naming_file_and_line(project):
    path = _write(project, "broken", "name: broken\ntitle: Broken\nitems:\n"
                                     "  - id: both\n    text: Both kinds\n"
                                     "    check: SELECT true AS ok, 'x' AS evidence\n    manual: true\n")
    _write(project, "garbled", "name: garbled\ntitle: [unclosed\n")
    result = _cli(None, project / "phases.yaml")("checklist", "list")
    assert result.exit_code == 2
    assert (f"{path}:4: items.0: item 'both' needs exactly one of `check` (SQL), `judge` (a monitor criterion), "
            "`run` (a toolkit check) or `manual: true`") in result.stderr
    assert f"{project / 'checklists' / 'garbled.yaml'}:3: not valid YAML" in result.stderr
    assert _cli(None, project / "phases.yaml")("checklist", "run", "broken").exit_code == 2


@pytest.mark.parametrize("ticks, message", [
    ("{phase: 1, step: data_type_registry}",
     "step 'data_type_registry' of phase 1 is a sql step; a checklist ticks only manual steps (manual: true)"),
    ("{phase: 1, step: no_such_step}", "phases.yaml has no step 'no_such_step' in phase 1"),
    ("{phase: 9, step: manual_test_tables}", "phases.yaml has no step 'manual_test_tables' in phase 9"),
])
def test_ticks_must_name_a_manual_step_of_the_plan(project, ticks, message):
    path = _write(project, "ticking", f"name: ticking\ntitle: Ticks\nticks: {ticks}\nitems:\n"
                                      "  - {id: look, text: Look, manual: true}\n")
    with pytest.raises(ConfigError) as refused:
        load_all(project)
    assert refused.value.problems == [f"{path}:3: ticks: {message}"]


@pytest.mark.parametrize("check, message", [
    ("SELECT %(data_type)s = 'quote' AS ok, '' AS evidence",
     "unknown parameter %(data_type)s (per-type parameters need per_type: true)"),
    ("SELECT 'a' LIKE 'a%' AS ok, '' AS evidence", "a literal percent sign is written %%"),
    ("DELETE FROM public.ops_events; COMMIT; SELECT true AS ok, '' AS evidence",
     "COMMIT: a check must not control the transaction"),
])
def test_checks_that_would_break_at_run_time_are_refused_on_load(project, check, message):
    path = _write(project, "risky", "name: risky\ntitle: Risky\nitems:\n"
                                    f"  - id: risky\n    text: Risky\n    check: \"{check}\"\n")
    with pytest.raises(ConfigError) as refused:
        load_all(project)
    assert refused.value.problems[0].startswith(f"{path}:6: item 'risky': {message}")


@pytest.mark.parametrize("schedule, seconds", [
    ("* * * * *", 60), ("*/5 * * * *", 300), ("17 * * * *", 3600), ("0 3 * * *", 86400),
    ("0 4 * * 0", 7 * 86400), ("0 8 1 * *", 31 * 86400),
])
def test_legacy_interval_is_the_longest_gap_of_the_schedule(schedule, seconds):
    assert cron_period_seconds(schedule) == seconds


# -- running ---------------------------------------------------------------------------------

def test_non_interactive_run_stores_automated_answers_and_leaves_manual_pending(queue_db):
    result, payload = _run_json(_cli(queue_db), "phase1-manual", "--non-interactive")
    assert result.exit_code == 1
    assert payload["result"] == "incomplete" and not payload["stopped"]
    assert _failed_automated(payload) == []
    items = _items(payload)
    assert items["registry_lists_types"]["evidence"] == "11 registry rows, every planned type among them"
    assert [items[i]["result"] for i in PHASE1_MANUAL] == [None, None]

    stored = queue_db.rows("SELECT a.item_id, a.result, a.evidence, a.answered_by, a.answered_at, r.result, r.finished_at "
                           "FROM toolkit.checklist_answers AS a JOIN toolkit.checklist_runs AS r ON r.id = a.run_id")
    automated = {i for i, item in items.items() if item["kind"] == "automated"}
    assert {row[0] for row in stored} == automated and len(stored) == len(automated) == 9
    assert all(row[1] == "pass" and row[2] and row[3] == "pytest" and row[4] is not None for row in stored)
    assert all(row[5] == "incomplete" and row[6] is not None for row in stored)
    # The probe rows of the checks were rolled back.
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 0
    assert queue_db.scalar("SELECT count(*) FROM public.active_subscriptions_v2") == 0


def test_interactive_run_stops_on_q_and_resumes_at_the_next_unanswered_item(queue_db):
    cli = _cli(queue_db)
    first = cli("checklist", "run", "phase1-manual", input="pass\nlooks right\nq\n")
    assert first.exit_code == 1
    assert "--resume" in first.stdout
    assert queue_db.rows("SELECT finished_at, result FROM toolkit.checklist_runs") == [(None, None)]
    assert _answers(queue_db)["table_editor_lists_tables"] == ("pass", "looks right")
    assert "api_reads_registry" not in _answers(queue_db)
    checked_at = queue_db.scalar("SELECT answered_at FROM toolkit.checklist_answers WHERE item_id = 'registry_lists_types'")

    blocked = cli("checklist", "run", "phase1-manual", input="pass\n\n")
    assert blocked.exit_code == 2 and "--resume" in blocked.stderr

    resumed = cli("checklist", "run", "phase1-manual", "--resume", input="pass\n\n")
    assert resumed.exit_code == 0, resumed.output
    assert "table_editor_lists_tables" not in resumed.stderr  # prompts go to stderr: not asked again
    assert "api_reads_registry" in resumed.stderr
    assert queue_db.rows("SELECT count(*), max(result) FROM toolkit.checklist_runs WHERE finished_at IS NOT NULL") == [(1, "pass")]
    assert len(_answers(queue_db)) == 11
    # Automated answers stored before the stop were kept, not run again.
    assert queue_db.scalar("SELECT answered_at FROM toolkit.checklist_answers WHERE item_id = 'registry_lists_types'") == checked_at

    listed = json.loads(cli("--json", "checklist", "list").stdout)
    assert next(c for c in listed if c["name"] == "phase1-manual")["last_result"] == "pass"


def test_a_fail_answer_fails_the_run_and_restart_abandons_a_stopped_run(queue_db):
    cli = _cli(queue_db)
    assert cli("checklist", "run", "phase1-manual", input="q\n").exit_code == 1
    result, payload = _run_json(cli, "phase1-manual", "--restart", input="fail\npartitions missing\npass\n\n")
    assert result.exit_code == 1 and payload["result"] == "fail"  # prompts kept off stdout: it parsed
    runs = queue_db.rows("SELECT result FROM toolkit.checklist_runs ORDER BY id")
    assert runs == [("incomplete",), ("fail",)]
    assert queue_db.rows("SELECT a.result, a.note FROM toolkit.checklist_answers AS a "
                         "WHERE a.item_id = 'table_editor_lists_tables' AND a.run_id = (SELECT max(id) FROM toolkit.checklist_runs)") \
        == [("fail", "partitions missing")]


@pytest.mark.parametrize("name", ["phase2-manual", "phase3-staleness", "phase3-queue-populated"])
def test_phase2_and_phase3_checks_pass_and_leave_nothing_behind(staleness_db, name):
    before = staleness_db.rows(FOOTPRINT)
    result, payload = _run_json(_cli(staleness_db), name, "--non-interactive")
    assert _failed_automated(payload) == []
    assert result.exit_code == 1  # their manual items are pending
    assert staleness_db.rows(FOOTPRINT) == before


def test_phase_gate_passes_only_when_phases_0_to_3_are_applied(queue_db, staleness_db):
    result, payload = _run_json(_cli(staleness_db), "phase-gate", "--non-interactive")
    assert result.exit_code == 0 and payload["result"] == "pass", _failed_automated(payload)
    assert _items(payload)["queue_system_switch"]["evidence"].startswith("use_queue_system is off")

    result, payload = _run_json(_cli(queue_db), "phase-gate", "--non-interactive")
    assert result.exit_code == 1
    assert [i for i, _ in _failed_automated(payload)] == ["phase3_applied"]
    # enable_pg_net and grant_net_usage belong to the postgres scheduler mode: not asked for here.
    assert _items(payload)["phase3_applied"]["evidence"].startswith("not applied: staleness_settings, check_and_queue")


def test_migration_checklist_before_any_migration_fails_with_evidence(staleness_db):
    result, payload = _run_json(_cli(staleness_db), "migration", "--type", "quote", "--non-interactive")
    assert result.exit_code == 1 and payload["data_type"] == "quote"
    items = _items(payload)
    assert items["registered"]["result"] == "pass"
    assert (items["flag_on"]["result"], items["flag_on"]["evidence"]) == ("fail", "use_queue_system off, use_queue_for_quote off")
    assert (items["legacy_job_inactive"]["result"], items["legacy_job_inactive"]["evidence"]) == \
        ("fail", "refresh-stock-quotes (* * * * *) is active")
    assert (items["jobs_succeed"]["result"], items["jobs_succeed"]["evidence"]) == (
        "inconclusive", "only 0 quote job(s) finished in the last 60 min; 10 needed to judge")
    assert items["viewed_data_fresh"]["result"] == "inconclusive"
    assert items["no_errors_in_logs"]["text"].startswith("No errors in the logs") and items["no_errors_in_logs"]["result"] is None


def test_cron_checks_say_when_pg_cron_is_missing(queue_db):
    queue_db.as_platform("DROP EXTENSION pg_cron CASCADE")  # disabled in the dashboard
    _, payload = _run_json(_cli(queue_db), "migration", "--type", "profile", "--non-interactive")
    assert (_items(payload)["legacy_job_inactive"]["result"], _items(payload)["legacy_job_inactive"]["evidence"]) == \
        ("fail", "pg_cron is not installed")


def test_rollback_drill_sees_the_legacy_job_the_flag_and_leftover_jobs(staleness_db):
    cli = _cli(staleness_db)
    # Before any migration the type is where a rollback brings it back to.
    _, payload = _run_json(cli, "rollback-drill", "--type", "quote", "--non-interactive")
    assert _failed_automated(payload) == []

    staleness_db.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname = 'refresh-stock-quotes'")
    staleness_db.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, created_at) "
                         "VALUES ('AAPL', 'quote', now() - interval '10 minutes')")
    staleness_db.execute("UPDATE public.feature_flags SET enabled = true WHERE flag_name = 'use_queue_for_quote'")
    result, payload = _run_json(cli, "rollback-drill", "--type", "quote", "--non-interactive")
    assert result.exit_code == 1
    failed = dict(_failed_automated(payload))
    assert failed.keys() == {"legacy_job_restored", "flag_off", "no_leftover_jobs"}
    assert failed["legacy_job_restored"].startswith("refresh-stock-quotes is inactive")
    assert failed["no_leftover_jobs"].startswith("1 pending quote job(s) older than 60 s")


def test_check_errors_and_bad_verdicts_fail_the_item_and_writes_are_rolled_back(project, db):
    _write(project, "probe", """name: probe
title: Probe
items:
  - id: writes_then_passes
    text: Creates and fills a table, then passes
    check: |
      CREATE TABLE public.checklist_probe (id integer);
      INSERT INTO public.checklist_probe VALUES (1);
      SELECT count(*) = 1 AS ok, count(*) || ' row' AS evidence FROM public.checklist_probe
  - id: sql_error
    text: Reads a table that does not exist
    check: SELECT true AS ok, 'x' AS evidence FROM public.no_such_table
  - id: two_rows
    text: Returns two rows
    check: SELECT true AS ok, 'x' AS evidence FROM generate_series(1, 2)
  - id: no_verdict
    text: Returns no ok column
    check: SELECT 1 AS one
""")
    result, payload = _run_json(_cli(db, project / "phases.yaml"), "probe", "--non-interactive")
    assert result.exit_code == 1 and payload["result"] == "fail"
    items = _items(payload)
    assert (items["writes_then_passes"]["result"], items["writes_then_passes"]["evidence"]) == ("pass", "1 row")
    assert items["sql_error"]["result"] == "fail"
    assert 'relation "public.no_such_table" does not exist' in items["sql_error"]["evidence"]
    assert items["two_rows"]["evidence"] == "bad check: it returns 2 rows; it must return exactly one"
    assert items["no_verdict"]["evidence"] == "bad check: it returns columns one; it must return ok and evidence"
    assert db.scalar("SELECT to_regclass('public.checklist_probe')") is None


def test_bad_name_or_type_exits_2_listing_the_choices(staleness_db):
    cli = _cli(staleness_db)
    for args, message in [
        (("migration", "--type", "nope"), "has no data type 'nope'"),
        (("migration",), "needs --type"),
        (("phase-gate", "--type", "quote"), "phase-gate is not per type; drop --type quote"),
    ]:
        result = cli("checklist", "run", *args, "--non-interactive")
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr
        if args[0] == "migration":
            assert "hint: one of: quote, profile, financial-statements" in result.stderr
    unknown = cli("checklist", "run", "nope")
    assert unknown.exit_code == 2 and "no checklist 'nope'" in unknown.stderr and "phase1-manual" in unknown.stderr
    assert staleness_db.scalar("SELECT count(*) FROM toolkit.checklist_runs") == 0


def test_latest_results_is_the_newest_finished_run_per_checklist_and_type(db):
    with db.connect(autocommit=True) as conn:
        ledger.install(conn)
        conn.execute("""
            INSERT INTO toolkit.checklist_runs (checklist, data_type, started_by, started_at, finished_at, result) VALUES
                ('phase1-manual', NULL, 'a', now() - interval '3 hours', now() - interval '3 hours', 'pass'),
                ('phase1-manual', NULL, 'b', now() - interval '2 hours', now() - interval '2 hours', 'fail'),
                ('phase1-manual', NULL, 'c', now() - interval '1 hour', NULL, NULL),
                ('phase-gate', NULL, 'a', now() - interval '3 hours', now() - interval '5 minutes', 'pass'),
                ('phase-gate', NULL, 'b', now() - interval '2 hours', now() - interval '1 hour', 'fail'),
                ('migration', 'quote', 'a', now() - interval '2 hours', now() - interval '2 hours', 'fail'),
                ('migration', 'quote', 'b', now() - interval '1 hour', now() - interval '1 hour', 'pass'),
                ('migration', 'profile', 'a', now() - interval '1 hour', now() - interval '1 hour', 'incomplete')
        """)
        assert latest_results(conn) == {
            ("phase1-manual", None): "fail",     # the unfinished newer run does not count
            ("phase-gate", None): "pass",        # finished last, though started first
            ("migration", "quote"): "pass",
            ("migration", "profile"): "incomplete",
        }


def test_latest_results_before_the_tables_exist_is_empty(db):
    # `progress` may read results of a database no checklist has run on yet.
    assert db.scalar("SELECT to_regclass('toolkit.checklist_runs')") is None
    with db.connect(autocommit=True) as conn:
        assert latest_results(conn) == {}


def test_a_skipped_item_leaves_the_run_incomplete_and_show_prints_the_run(queue_db):
    cli = _cli(queue_db)
    result, payload = _run_json(cli, "phase1-manual", input="pass\nlooked at it\nskip\nno API key today\n")
    assert result.exit_code == 1 and payload["result"] == "incomplete"
    assert queue_db.scalar("SELECT result FROM toolkit.checklist_runs") == "incomplete"
    said = cli("checklist", "run", "phase1-manual", input="pass\n\nskip\n\n")
    assert said.exit_code == 1 and "incomplete (1 skipped)" in " ".join(said.stdout.split())

    shown = cli("checklist", "show", str(payload["run_id"]))
    assert shown.exit_code == 0, shown.output
    out = " ".join(shown.stdout.split())
    assert f"run {payload['run_id']} of phase1-manual: incomplete" in out
    assert "skip api_reads_registry" in out and "note: no API key today" in out
    assert "pass table_editor_lists_tables" in out and "note: looked at it" in out
    assert "evidence: 11 registry rows, every planned type among them" in out and "answered by pytest at" in out
    newest = json.loads(cli("--json", "checklist", "show").stdout)
    assert newest["run_id"] == payload["run_id"] + 1 and newest["result"] == "incomplete"
    assert [i["id"] for i in newest["items"]] == [i["id"] for i in payload["items"]]
    missing = cli("checklist", "show", "999")
    assert missing.exit_code == 2 and "there is no checklist run 999" in missing.stderr


def test_show_before_any_run_says_so(db):
    result = _cli(db)("checklist", "show")
    assert result.exit_code == 2 and "no checklist has been run" in result.stderr
    assert db.scalar("SELECT to_regnamespace('toolkit')") is None


def test_a_schema_from_before_inconclusive_is_widened(db):
    from toolkit import schema

    inconclusive = next(m for m in schema.migrations() if m.name == "0005_checklist_inconclusive")
    with db.connect(autocommit=True) as conn:
        # The schema as a toolkit at the version before left it: answers without 'inconclusive'.
        for m in schema.migrations()[:inconclusive.version - 1]:
            conn.execute(m.sql)
            conn.execute("INSERT INTO toolkit.schema_version (version, name, toolkit_version) VALUES (%s, %s, 'old')",
                         [m.version, m.name])
        ledger.install(conn)
        definition = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                  "WHERE conname = 'checklist_answers_result_check'").fetchone()[0]
    assert "inconclusive" in definition
