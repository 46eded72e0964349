"""The apply engine against a real PostgreSQL: apply, no-op, drift, atomicity, locking, revert, verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import ROOT, Cli

LEDGER = "SELECT phase, step, checksum, template_hash, applied_at FROM toolkit.ledger ORDER BY phase, step"


def test_fresh_apply_verify_and_reapply_is_a_noop(cli, db):
    first = cli("phase", "apply", "0")
    assert first.exit_code == 0, first.output
    second = cli("phase", "apply", "1")
    assert second.exit_code == 0, second.output
    steps = db.rows("SELECT phase, step, verify_ok FROM toolkit.ledger ORDER BY phase, step")
    assert {(p, s) for p, s, _ in steps} == {
        (0, "feature_flags"), (0, "ops_events"),
        (1, "data_type_registry"), (1, "is_valid_identifier"), (1, "is_valid_symbol"), (1, "active_subscriptions"),
        (1, "api_call_queue"), (1, "is_data_stale"), (1, "is_profile_stale"),
    }
    assert all(ok for _, _, ok in steps)

    for phase in ("0", "1"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output
    # A range verifies each phase of it, and a phase not applied fails it, named.
    both = cli("--json", "phase", "verify", "0..1")
    assert both.exit_code == 0, both.output
    assert {(r["phase"], r["step"]) for r in json.loads(both.stdout) if r["result"] == "pass"} >= {
        (0, "feature_flags"), (1, "api_call_queue")}
    three = cli("phase", "verify", "0..2")
    assert three.exit_code == 1 and "2/api_data_usage" in three.output, three.output

    before = db.rows(LEDGER)
    history_before = db.scalar("SELECT count(*) FROM toolkit.history WHERE action = 'apply'")
    again = cli("--json", "phase", "apply", "0..1")
    assert again.exit_code == 0, again.output
    assert [r["result"] for r in json.loads(again.stdout)] == ["already applied", "already applied"]
    assert db.rows(LEDGER) == before
    assert db.scalar("SELECT count(*) FROM toolkit.history WHERE action = 'apply'") == history_before


def test_registry_is_seeded_from_the_plan(cli, db):
    assert cli("phase", "apply", "0..1").exit_code == 0
    rows = db.rows("SELECT data_type, target_table, ttl_seconds, endpoints FROM public.data_type_registry_v2")
    by_type = {r[0]: r for r in rows}
    assert len(by_type) == 11
    assert by_type["quote"][1:] == ("stock_quotes", 60, ["quote"])
    assert by_type["financial-statements"][3] == ["income-statement", "balance-sheet-statement", "cash-flow-statement"]
    flags = {r[0] for r in db.rows("SELECT flag_name FROM public.feature_flags")}
    assert {"use_queue_system", "use_queue_for_quote", "use_queue_for_exchange_market_status"} <= flags


def test_requires_gates_apply_unless_forced_with_reason(cli, db):
    refused = cli("phase", "apply", "1")
    assert refused.exit_code == 2
    assert "requires phase 0" in refused.stderr
    assert db.scalar("SELECT count(*) FROM toolkit.ledger") == 0

    no_reason = cli("phase", "apply", "1", "--force")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr

    # Phase 1's objects do not depend on phase 0's, so a forced apply goes through, recorded.
    forced = cli("phase", "apply", "1", "--force", "--reason", "drill")
    assert forced.exit_code == 0, forced.output
    assert db.scalar("SELECT detail FROM toolkit.history WHERE action = 'force'").endswith("reason: drill")


def test_template_edited_after_apply_shows_as_drift(db, project):
    cli = Cli(db, project / "phases.yaml")
    assert cli("phase", "apply", "0").exit_code == 0
    clean = cli("--json", "phase", "plan", "0")
    assert clean.exit_code == 0
    assert {s["step"]: s["state"] for s in json.loads(clean.stdout)}["feature_flags"] == "applied"

    deploy = project / "templates/sql/phase0/ops_events/deploy.sql"
    deploy.write_text(deploy.read_text() + "\nCOMMENT ON TABLE public.ops_events IS 'edited';\n")
    drifted = cli("--json", "phase", "plan", "0")
    assert drifted.exit_code == 1
    states = {s["step"]: s for s in json.loads(drifted.stdout)}
    assert states["ops_events"]["state"] == "drift"
    assert "the template of revision 1 changed without a new revision" in states["ops_events"]["note"]
    assert states["feature_flags"]["state"] == "applied" and states["feature_flags"]["revision"] == 1
    assert states["baseline"]["state"] == "missing"  # a document step: not rendered yet
    # The health check is served by the local gateway, which apply checked; an edited
    # function is drift too.
    assert states["health_check"]["state"] == "applied"
    handler = project / "templates/edge/health-check/handler.ts"
    handler.write_text(handler.read_text() + "\n// edited\n")
    states = {s["step"]: s["state"] for s in json.loads(cli("--json", "phase", "plan", "0").stdout)}
    assert states["health_check"] == "drift"


def test_a_changed_setting_is_drift_of_the_steps_that_read_it_only(db, project):
    cli = Cli(db, project / "phases.yaml")
    assert cli("phase", "apply", "0..3").exit_code == 0
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace('    scheduled_refresh: "*/5 * * * *"', '    scheduled_refresh: "*/7 * * * *"'))
    states = {s["step"]: s for p in range(4) for s in json.loads(cli("--json", "phase", "plan", str(p)).stdout)}
    drifted = {step for step, s in states.items() if s["state"] == "drift"}
    # cron_jobs reads settings.schedules, api_data_usage all of settings; the steps that read
    # only the data types or the staleness settings are as they were.
    assert drifted == {"cron_jobs", "api_data_usage"}, drifted
    assert "the plan's settings changed" in states["cron_jobs"]["note"]


def test_an_object_changed_by_hand_shows_as_drift(cli, db):
    assert cli("phase", "apply", "0..1").exit_code == 0
    assert cli("phase", "plan", "1").exit_code == 0
    # Someone replaces a function outside the toolkit: the template did not change, the database did.
    db.execute("CREATE OR REPLACE FUNCTION public.is_valid_identifier(p_name text) RETURNS boolean "
               "LANGUAGE sql IMMUTABLE SET search_path = '' AS $$ SELECT true $$")
    drifted = cli("--json", "phase", "plan", "1")
    assert drifted.exit_code == 1
    states = {s["step"]: s for s in json.loads(drifted.stdout)}
    assert states["is_valid_identifier"]["state"] == "drift"
    assert ("the database no longer matches revision 1: function public.is_valid_identifier(pg_catalog.text) changed"
            in states["is_valid_identifier"]["note"])
    assert {s for s, v in states.items() if v["state"] == "drift"} == {"is_valid_identifier"}
    db.execute("ALTER TABLE public.active_subscriptions_v2 DISABLE ROW LEVEL SECURITY")
    states = {s["step"]: s for s in json.loads(cli("--json", "phase", "plan", "1").stdout)}
    assert "table public.active_subscriptions_v2 changed" in states["active_subscriptions"]["note"]


def _failing_plan(project: Path, deploy_sql: str, verify_sql: str = "SELECT 1;\n") -> Path:
    """The real plan with a step `broken` inserted in the middle of phase 1."""
    folder = project / "templates/sql/test/broken"
    folder.mkdir(parents=True)
    (folder / "deploy.sql").write_text(deploy_sql)
    (folder / "revert.sql").write_text("SELECT 1;\n")
    (folder / "verify.sql").write_text(verify_sql)
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace(
        "      - {id: is_valid_identifier,",
        "      - {id: broken, task: \"Broken step\", sql: test/broken}\n      - {id: is_valid_identifier,",
    ))
    return plan


def _snapshot(db) -> tuple:
    return (db.schema_dump("public", "toolkit"), db.rows(LEDGER),
            db.rows("SELECT id, action, phase, step, checksum FROM toolkit.history ORDER BY id"))


def test_failing_step_leaves_database_and_ledger_as_before(db, project):
    cli = Cli(db, _failing_plan(project, "CREATE TABLE public.half_done (id int);\nSELECT 1/0;\n"))
    assert cli("phase", "apply", "0").exit_code == 0
    before = _snapshot(db)
    result = cli("phase", "apply", "1")
    assert result.exit_code == 2
    assert "step broken failed" in result.stderr and "division by zero" in result.stderr
    assert _snapshot(db) == before
    assert db.scalar("SELECT to_regclass('public.data_type_registry_v2')") is None
    assert db.scalar("SELECT to_regclass('public.half_done')") is None


def test_failing_verify_rolls_back_the_phase(db, project):
    cli = Cli(db, _failing_plan(project, "CREATE TABLE public.half_done (id int);\n",
                                "SELECT toolkit.check(false, 'half_done is never right');\n"))
    assert cli("phase", "apply", "0").exit_code == 0
    before = _snapshot(db)
    result = cli("phase", "apply", "1")
    assert result.exit_code == 1
    assert "broken" in result.stderr and "half_done is never right" in result.stderr
    assert _snapshot(db) == before


def test_concurrent_applies_one_proceeds_the_other_exits_2(db, project):
    slow = project / "templates/sql/test/slow"
    slow.mkdir(parents=True)
    (slow / "deploy.sql").write_text("SELECT pg_sleep(3);\nCREATE TABLE public.slow_marker (id int);\n"
                                     "ALTER TABLE public.slow_marker ENABLE ROW LEVEL SECURITY;\n")
    (slow / "revert.sql").write_text("DROP TABLE public.slow_marker;\n")
    (slow / "verify.sql").write_text("SELECT toolkit.check(to_regclass('public.slow_marker') IS NOT NULL, 'slow_marker');\n")
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text()
                    .replace("      - {id: ops_events,", "      - {id: slow, task: \"Slow\", sql: test/slow}\n      - {id: ops_events,")
                    .replace("apply_lock_wait_seconds: 5", "apply_lock_wait_seconds: 0.5"))
    cmd = [sys.executable, "-m", "toolkit", "--plan", str(plan), "--db-url", db.url, "phase", "apply", "0"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for _ in range(2)]
    outcomes = sorted((p.wait(timeout=60), p.stderr.read()) for p in procs)
    assert [code for code, _ in outcomes] == [0, 2], outcomes
    assert "holds the apply lock" in outcomes[1][1]
    assert "Traceback" not in outcomes[1][1]
    assert db.rows("SELECT step, count(*) FROM toolkit.history WHERE action = 'apply' GROUP BY step ORDER BY step") == [
        ("feature_flags", 1), ("health_check", 1), ("ops_events", 1), ("slow", 1)]


def test_revert_then_apply_returns_to_the_same_schema(cli, db):
    assert cli("phase", "apply", "0..1").exit_code == 0
    applied = db.schema_dump("public")
    refused = cli("--yes", "phase", "revert", "0")
    assert refused.exit_code == 2 and "not the newest applied phase" in refused.stderr

    for cycle in range(2):  # twice: a second archive must not collide with the first
        db.execute("INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types) "
                   "VALUES (gen_random_uuid(), 'AAPL', ARRAY['quote'])")
        reverted = cli("--yes", "phase", "revert", "1")
        assert reverted.exit_code == 0, reverted.output
        assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE phase = 1") == 0
        assert db.scalar("SELECT to_regclass('public.api_call_queue_v2')") is None
        # The subscription row was kept: its table moved to an archive schema.
        archived = db.rows("SELECT archived_as FROM toolkit.archived_tables "
                           "WHERE original = 'public.active_subscriptions_v2' ORDER BY id")
        assert len(archived) == cycle + 1
        assert db.scalar(f"SELECT count(*) FROM {archived[-1][0]}") == 1

        assert cli("phase", "apply", "1").exit_code == 0
        assert db.schema_dump("public") == applied


def test_revert_with_drop_data_drops_tables(cli, db):
    assert cli("phase", "apply", "0").exit_code == 0
    result = cli("--yes", "phase", "revert", "0", "--drop-data")
    assert result.exit_code == 0, result.output
    assert db.scalar("SELECT count(*) FROM toolkit.archived_tables") == 0
    assert db.scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'feature_flag%'") == 0


def test_verify_fails_after_a_verified_object_is_dropped(cli, db):
    assert cli("phase", "apply", "0..1").exit_code == 0
    db.execute("DROP FUNCTION public.is_profile_stale_v2(timestamptz, integer, boolean)")
    result = cli("--json", "phase", "verify", "1")
    assert result.exit_code == 1
    by_step = {r["step"]: r for r in json.loads(result.stdout)}
    assert by_step["is_profile_stale"]["result"] == "fail"
    assert "is_profile_stale" in result.stderr
    assert all(r["result"] == "pass" for s, r in by_step.items() if s in ("is_data_stale", "api_call_queue"))
    assert db.scalar("SELECT verify_ok FROM toolkit.ledger WHERE step = 'is_profile_stale'") is False


def test_verify_fails_when_a_client_role_may_call_a_private_function(cli, db):
    assert cli("phase", "apply", "0..1").exit_code == 0
    db.execute("GRANT EXECUTE ON FUNCTION public.is_data_stale_v2(timestamptz, integer) TO anon")
    result = cli("--json", "phase", "verify", "1")
    failed = {r["step"]: r["message"] for r in json.loads(result.stdout) if r["result"] == "fail"}
    assert result.exit_code == 1 and list(failed) == ["is_data_stale"]
    assert "anon can execute public.is_data_stale_v2(timestamptz, integer)" in failed["is_data_stale"]


def test_dry_run_prints_sql_and_changes_nothing(cli, db):
    result = cli("phase", "apply", "0", "--dry-run")
    assert result.exit_code == 0
    assert "CREATE TABLE" in result.stdout and "feature_flags" in result.stdout
    assert db.scalar("SELECT to_regclass('public.feature_flags')") is None
    assert db.scalar("SELECT to_regclass('toolkit.ledger')") is None


def test_revert_with_nothing_applied_is_a_clear_error(cli):
    result = cli("--yes", "phase", "revert", "1")
    assert result.exit_code == 2
    assert "nothing is applied" in result.stderr


def test_step_outside_a_transaction_is_applied_and_recorded(db, project):
    folder = project / "templates/sql/test/concurrent_index"
    folder.mkdir(parents=True)
    (folder / "deploy.sql").write_text(
        "CREATE INDEX CONCURRENTLY stock_quotes_exchange_idx ON public.stock_quotes (exchange);\n")
    (folder / "revert.sql").write_text("DROP INDEX IF EXISTS public.stock_quotes_exchange_idx;\n")
    (folder / "verify.sql").write_text(
        "SELECT toolkit.check(to_regclass('public.stock_quotes_exchange_idx') IS NOT NULL, 'index');\n")
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace(
        "      - {id: ops_events,",
        "      - {id: concurrent_index, task: \"Index\", sql: test/concurrent_index, transaction: false}\n"
        "      - {id: ops_events,"))
    result = Cli(db, plan)("phase", "apply", "0")
    assert result.exit_code == 0, result.output
    assert db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.stock_quotes_exchange_idx'::regclass")
    assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE step = 'concurrent_index'") == 1
    assert Cli(db, plan)("--yes", "phase", "revert", "0").exit_code == 0
    assert db.scalar("SELECT to_regclass('public.stock_quotes_exchange_idx')") is None
