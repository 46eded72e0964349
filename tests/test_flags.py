"""`toolkit flags ...`: every change one audit row with its actor and reason."""

from __future__ import annotations

import json

from tests.conftest import ROOT, Cli


def test_enable_disable_history(cli, db):
    assert cli("phase", "apply", "0").exit_code == 0
    listed = json.loads(cli("--json", "flags", "list").stdout)
    assert {"use_queue_system", "use_queue_for_quote"} <= {f["flag_name"] for f in listed}
    assert all(f["enabled"] is False for f in listed)

    on = cli("--json", "flags", "enable", "use_queue_system", "--reason", "start the canary")
    assert on.exit_code == 0, on.output
    assert json.loads(on.stdout)["changed"] is True
    again = cli("--json", "flags", "enable", "use_queue_system", "--reason", "twice")
    assert json.loads(again.stdout)["changed"] is False
    assert cli("--actor", "bob", "flags", "disable", "use_queue_system", "--reason", "drill over").exit_code == 0

    rows = json.loads(cli("--json", "flags", "history", "use_queue_system").stdout)
    changes = [(r["old_enabled"], r["new_enabled"], r["actor"], r["reason"]) for r in rows if r["old_enabled"] is not None]
    assert changes == [(True, False, "bob", "drill over"), (False, True, "pytest", "start the canary")]
    assert all(r["at"] for r in rows)


def test_a_reason_is_required_and_unknown_flags_are_named(cli, db):
    assert cli("phase", "apply", "0").exit_code == 0
    missing = cli("flags", "enable", "use_queue_system")
    assert missing.exit_code == 2 and "--reason" in missing.output
    blank = cli("flags", "enable", "use_queue_system", "--reason", "  ")
    assert blank.exit_code == 2 and "reason is required" in blank.stderr
    unknown = cli("flags", "enable", "use_queue_for_nothing", "--reason", "x")
    assert unknown.exit_code == 2 and "unknown flag" in unknown.stderr and "use_queue_system" in unknown.stderr
    assert db.scalar("SELECT count(*) FROM public.feature_flag_audit WHERE old_enabled IS NOT NULL") == 0


def test_flags_before_phase_0_say_what_to_do(cli):
    result = cli("flags", "list")
    assert result.exit_code == 2 and "toolkit phase apply 0" in result.stderr


def test_actor_comes_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("TOOLKIT_ACTOR", "carol")
    plain = Cli(db, ROOT / "phases.yaml")
    base = ["--plan", str(plain.plan), "--db-url", db.url]
    from typer.testing import CliRunner

    from toolkit.cli import app

    assert CliRunner().invoke(app, [*base, "phase", "apply", "0"]).exit_code == 0
    assert CliRunner().invoke(app, [*base, "flags", "enable", "use_queue_system", "--reason", "r"]).exit_code == 0
    assert db.scalar("SELECT actor FROM public.feature_flag_audit WHERE old_enabled IS NOT NULL") == "carol"


def test_disabling_the_queue_while_types_are_migrated_warns_and_asks(staleness_db, tmp_path):
    cli = Cli(staleness_db, ROOT / "phases.yaml")
    assert cli("migrate", "quote", "--force", "--reason", "phase 4 is not what this test is about").exit_code == 0
    audit = "SELECT count(*) FROM public.feature_flag_audit WHERE old_enabled IS NOT NULL"
    before = staleness_db.scalar(audit)

    refused = cli("flags", "disable", "use_queue_system", "--reason", "drill")  # no terminal, no --yes
    assert refused.exit_code == 2
    assert "with use_queue_system off nothing refreshes quote" in " ".join(refused.stderr.split())
    assert "needs confirmation" in refused.stderr and "--yes" in refused.stderr
    per_type = cli("flags", "disable", "use_queue_for_quote", "--reason", "drill")
    assert per_type.exit_code == 2 and "nothing refreshes quote" in " ".join(per_type.stderr.split())
    assert staleness_db.scalar(audit) == before  # nothing changed

    other = cli("--json", "flags", "disable", "use_queue_for_profile", "--reason", "not migrated: no question")
    assert other.exit_code == 0 and json.loads(other.stdout)["stops_refreshing"] == []
    done = cli("--json", "flags", "disable", "use_queue_system", "--reason", "drill", "--yes")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["stops_refreshing"] == ["quote"]
    assert staleness_db.scalar("SELECT enabled FROM public.feature_flags WHERE flag_name = 'use_queue_system'") is False
