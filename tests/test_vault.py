"""Database secrets through Vault's own functions; values never printed, never in argv."""

from __future__ import annotations

import json

from tests.conftest import ROOT, Cli

VALUE = "s3cr3t-value-that-must-never-be-printed-0123456789"


def test_set_db_creates_then_updates_and_never_prints_the_value(db, monkeypatch):
    cli = Cli(db, ROOT / "phases.yaml")
    created = cli("--json", "secrets", "set-db", "service_role_key", "--stdin", input=VALUE + "\n")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) == {"name": "service_role_key", "action": "created"}
    monkeypatch.setenv("NEW_KEY", VALUE + "-2")
    updated = cli("--json", "secrets", "set-db", "service_role_key", "--from-env", "NEW_KEY")
    assert json.loads(updated.stdout)["action"] == "updated"
    assert db.rows("SELECT name, decrypted_secret FROM vault.decrypted_secrets") == [("service_role_key", VALUE + "-2")]
    listed = cli("--json", "secrets", "list-db")
    assert [r["name"] for r in json.loads(listed.stdout)] == ["service_role_key"]
    for result in (created, updated, listed):
        assert VALUE not in result.output


def test_set_db_refuses_what_it_cannot_store_safely(db):
    cli = Cli(db, ROOT / "phases.yaml")
    for args in (["secrets", "set-db", "k"], ["secrets", "set-db", "k", "--stdin", "--from-env", "X"],
                 ["secrets", "set-db", "k", "--from-env", "TOOLKIT_SURELY_UNSET"],
                 ["secrets", "set-db", "bad name", "--stdin"]):
        result = cli(*args, input="v")
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert db.scalar("SELECT count(*) FROM vault.secrets") == 0
