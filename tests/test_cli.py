"""The command line's contract: --json payloads, exit codes 0/1/2, messages instead of tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, Cli


def test_help_does_not_import_database_or_template_libraries():
    code = ("import sys; from toolkit.cli import app; "
            "from typer.testing import CliRunner; r = CliRunner().invoke(app, ['--help']); "
            "assert r.exit_code == 0; "
            "print(sorted(m for m in ('psycopg', 'jinja2', 'pydantic', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_json_payloads_parse(cli, db):
    listing = cli("--json", "phase", "list")
    assert listing.exit_code == 0
    phases = json.loads(listing.stdout)
    assert [p["phase"] for p in phases] == list(range(7))

    shown = json.loads(cli("--json", "phase", "show", "1").stdout)
    assert shown["steps"][0]["task"] == "Create `data_type_registry_v2` table"

    rendered = json.loads(cli("--json", "phase", "render", "1").stdout)
    assert "PARTITION BY LIST" in next(r["sql"] for r in rendered if r["step"] == "api_call_queue")
    assert "{{" not in "".join(r["sql"] for r in rendered)

    applied = cli("--json", "phase", "apply", "0")
    assert applied.exit_code == 0
    assert json.loads(applied.stdout)[0]["result"] == "applied"
    assert applied.stderr == ""  # --json: nothing but the payload, even on stderr

    status = json.loads(cli("--json", "status").stdout)
    assert status["phases"][0]["applied"] == 3  # two SQL steps and the health check (served locally)


def test_exit_codes(cli, db):
    assert cli("phase", "list").exit_code == 0
    assert cli("phase", "apply", "0").exit_code == 0
    db.execute("DROP TABLE public.ops_events CASCADE")
    assert cli("phase", "verify", "0").exit_code == 1
    bad_phase = cli("phase", "show", "9")
    assert bad_phase.exit_code == 2 and "no phase 9" in bad_phase.stderr
    bad_range = cli("phase", "apply", "2..1")
    assert bad_range.exit_code == 2 and "backwards" in bad_range.stderr


def test_unreachable_database_is_a_message_not_a_traceback():
    result = Cli(None, ROOT / "phases.yaml")("--db-url", "postgresql://postgres:x@127.0.0.1:1/postgres", "status")
    assert result.exit_code == 2
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.output


def test_transaction_pooler_is_refused():
    url = "postgresql://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
    result = Cli(None, ROOT / "phases.yaml")("--db-url", url, "status")
    assert result.exit_code == 2
    assert "transaction pooler" in result.stderr


def test_remote_target_needs_the_project_ref_typed(tmp_path):
    # No server answers here: the confirmation is asked before anything connects.
    url = "postgresql://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres"
    cli = Cli(None, ROOT / "phases.yaml")
    result = cli("--db-url", url, "phase", "revert", "1", "--drop-data")
    assert result.exit_code == 2
    assert "needs confirmation" in result.stderr and "abcdefghijklmnopqrst" in result.stderr


def test_a_supabase_project_takes_the_hosted_scheduler_mode():
    """pg_net exists on every Supabase project: there the processor is started all in Postgres;
    elsewhere (the local stack) by an external ticker. Read from the URL, before connecting."""
    cli = Cli(None, ROOT / "phases.yaml")
    hosted = ["--db-url", "postgresql://postgres:x@db.abcdefghijklmnopqrst.supabase.co:5432/postgres"]
    for args, postgres_mode in ((hosted, True), ([], False)):
        phase3 = cli(*args, "phase", "render", "3")
        assert phase3.exit_code == 0, phase3.output
        assert ("CREATE EXTENSION IF NOT EXISTS pg_net" in phase3.stdout) is postgres_mode
        assert ("'queue-processor_v2'" in phase3.stdout) is postgres_mode  # pg_cron's processor job
        phase2 = cli(*args, "phase", "render", "2")
        assert ("net.http_post" in phase2.stdout) is postgres_mode
