"""The toolkit's own schema: numbered migrations from the unversioned layout of older toolkits,
upgraded in place by writing commands only, a newer schema refused."""

from __future__ import annotations

import json

from psycopg import sql

from tests.conftest import ROOT, Cli
from toolkit import schema
from toolkit.config import load_plan
from toolkit.queries import query
from toolkit.render import Renderer
from toolkit.states import MIGRATION_STATES

# The toolkit schema's scripts as every toolkit before the versions installed them (copied
# from toolkit/sql when they were replaced by toolkit/sql/migrations).
PREVIOUS = ROOT / "tests/fixtures/toolkit_schema_previous"
OLD_LEDGER = "SELECT phase, step, checksum, template_hash, applied_by, applied_at, toolkit_version FROM toolkit.ledger ORDER BY phase, step"
HISTORY = "SELECT id, at, action, phase, step, checksum, actor, ok, detail FROM toolkit.history ORDER BY id"
OTHER = ("SELECT checklist, result FROM toolkit.checklist_runs ORDER BY id",
         "SELECT run_id, item_id, result FROM toolkit.checklist_answers ORDER BY run_id, item_id",
         "SELECT data_type, state FROM toolkit.migrations ORDER BY data_type",
         "SELECT data_type, event FROM toolkit.migration_events ORDER BY id",
         "SELECT original, archived_as FROM toolkit.archived_tables ORDER BY id")


def _previous_toolkit_applies(db, phases: list[int]) -> None:
    """What an older toolkit left: its schema (without check_private_function, which came
    late), the phases' objects at revision 1 (all there was), and its ledger, history,
    checklist and migration rows."""
    states = sql.SQL(", ").join(sql.Literal(s) for s, _ in MIGRATION_STATES)
    loaded = load_plan(ROOT / "phases.yaml")
    renderer = Renderer(loaded)
    with db.connect() as conn:
        conn.execute((PREVIOUS / "ledger.sql").read_text())
        conn.execute((PREVIOUS / "checklists.sql").read_text())
        conn.execute(sql.SQL((PREVIOUS / "migrations.sql").read_text()).format(states=states))
        conn.execute("DROP FUNCTION toolkit.check_private_function(text, boolean)")
        conn.execute(query("step_session"), {"lock_timeout": "5s", "statement_timeout": "5min", "params": renderer.params(),
                                             "actor": "old", "is_local": True})
        for phase in phases:
            for r in (renderer.step(loaded.plan.phase(phase), s, 1) for s in loaded.plan.deployable(loaded.plan.phase(phase))):
                conn.execute(r.deploy)
                conn.execute("INSERT INTO toolkit.ledger (phase, step, checksum, template_hash, applied_by, toolkit_version, "
                             "duration_ms, verified_at, verify_ok) VALUES (%s, %s, %s, %s, 'old', '0.0.9', 7, now(), true)",
                             [phase, r.step.id, r.checksum, r.template_hash])
                conn.execute("INSERT INTO toolkit.history (action, phase, step, checksum, actor, toolkit_version, ok) "
                             "VALUES ('apply', %s, %s, %s, 'old', '0.0.9', true)", [phase, r.step.id, r.checksum])
        conn.execute("""
            WITH run AS (INSERT INTO toolkit.checklist_runs (checklist, started_by, finished_at, result)
                         VALUES ('phase1-manual', 'old', now(), 'pass') RETURNING id)
            INSERT INTO toolkit.checklist_answers (run_id, item_id, result, answered_by) SELECT id, 'insert', 'pass', 'old' FROM run;
            INSERT INTO toolkit.migrations (data_type, state, updated_by) VALUES ('quote', 'baking', 'old');
            INSERT INTO toolkit.migration_events (data_type, event, actor) VALUES ('quote', 'bake_started', 'old');
            INSERT INTO toolkit.archived_tables (original, archived_as, row_count) VALUES ('public.x', 'toolkit_archive_1.x', 3);
        """)


def _snapshot(db) -> tuple:
    return db.rows(OLD_LEDGER), db.rows(HISTORY), tuple(db.rows(q) for q in OTHER)


def test_a_schema_from_before_the_versions_is_upgraded_in_place_keeping_every_row(db, tmp_path):
    _previous_toolkit_applies(db, [0, 1])
    before = _snapshot(db)
    cli = Cli(db, ROOT / "phases.yaml")

    # Reading changes nothing: the steps are at revision 1, as the previous toolkit applied them
    # (upgradable where the plan has revised a step since).
    planned = cli("--json", "phase", "plan", "1")
    assert planned.exit_code == 0, planned.output
    states = [s for s in json.loads(planned.stdout) if s["kind"] == "sql"]
    assert {s["state"] for s in states} <= {"applied", "upgradable"} and {s["revision"] for s in states} == {1}
    assert cli("status").exit_code == 0
    assert db.scalar("SELECT to_regclass('toolkit.schema_version')") is None
    assert db.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'toolkit.ledger'::regclass AND attname = 'revision'") == 0

    # A writing command upgrades it, then does its work (phase 0's health check, which the
    # previous toolkit never deployed, is served and recorded; its SQL is applied already).
    applied = cli("phase", "apply", "0")
    assert applied.exit_code == 0, applied.output
    assert db.rows("SELECT version, name FROM toolkit.schema_version ORDER BY version") == [
        (m.version, m.name) for m in schema.migrations()]
    after = _snapshot(db)
    assert after[0] == before[0]
    assert after[1][:len(before[1])] == before[1] and after[2] == before[2]
    assert db.rows("SELECT DISTINCT revision, objects IS NULL FROM toolkit.ledger WHERE phase < 2") == [(1, True)]
    # The helper the older toolkit lacked is there for verify (migration 1 completes the layout),
    # and each step is held to the revision it is at.
    for phase in ("0", "1"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output

    # Phase 2 builds on phase 1's newest revisions: apply says so, and upgrade brings them.
    refused = cli("phase", "apply", "2")
    assert refused.exit_code == 2 and "toolkit phase upgrade 1" in refused.stderr, refused.output
    assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE phase = 2") == 0
    assert cli("phase", "upgrade", "1").exit_code == 0
    applied = cli("phase", "apply", "2")
    assert applied.exit_code == 0, applied.output
    assert db.scalar("SELECT bool_and(objects IS NOT NULL) FROM toolkit.ledger WHERE phase = 2")
    assert _snapshot(db)[0][:len([r for r in before[0] if r[0] == 0])] == [r for r in before[0] if r[0] == 0]
    for phase in ("1", "2"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output


def test_a_schema_newer_than_the_toolkit_is_refused(db):
    cli = Cli(db, ROOT / "phases.yaml")
    assert cli("phase", "apply", "0").exit_code == 0
    db.execute("INSERT INTO toolkit.schema_version (version, name, toolkit_version) VALUES (99, '0099_future', '9.9')")
    ledger = db.rows("SELECT * FROM toolkit.ledger")
    for args in (("phase", "plan", "0"), ("phase", "apply", "1"), ("status",)):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "toolkit schema" in result.stderr and "at version 99, newer than this toolkit" in result.stderr
        assert "Traceback" not in result.output
    assert db.rows("SELECT * FROM toolkit.ledger") == ledger


def test_read_only_commands_create_nothing(db, tmp_path):
    cli = Cli(db, ROOT / "phases.yaml")
    for args in (("status",), ("phase", "plan", "2"), ("phase", "apply", "0", "--dry-run"), ("phase", "upgrade", "all", "--dry-run"),
                 ("migrations",), ("--json", "progress")):
        result = cli(*args)
        assert result.exit_code in (0, 1), (args, result.output)
    assert db.scalar("SELECT to_regnamespace('toolkit')") is None


def test_the_migration_states_check_is_the_state_machines(db):
    cli = Cli(db, ROOT / "phases.yaml")
    assert cli("phase", "apply", "0").exit_code == 0
    check = db.scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'migrations_state_check'")
    assert [s for s, _ in MIGRATION_STATES] == [part.split("'")[1] for part in check.split("ARRAY[")[1].split(",")], check
