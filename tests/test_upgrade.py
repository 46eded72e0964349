"""A live database at phases 0-3, holding rows, taken to new revisions of a table step and a
function step by `phase upgrade`: every row kept, the queue working, verify passing."""

from __future__ import annotations

import json

from tests.conftest import Cli
from tests.revision_helpers import _edit, make_revisions, newest

QUEUE = "public.api_call_queue_v2"
ROWS = {
    "pending": f"SELECT id, symbol, data_type, priority, attempts FROM {QUEUE}_pending ORDER BY id",
    "processing": f"SELECT id, symbol, worker_id, started_at FROM {QUEUE}_processing ORDER BY id",
    "completed": f"SELECT id, symbol, actual_bytes, finished_at FROM {QUEUE}_completed ORDER BY id",
    "failed": f"SELECT id, symbol, attempts, last_error FROM {QUEUE}_failed ORDER BY id",
    "usage": "SELECT bucket, calls, bytes, completed_jobs FROM public.api_data_usage_v2 ORDER BY bucket",
    "subscriptions": "SELECT user_id, symbol, data_types FROM public.active_subscriptions_v2 ORDER BY user_id, symbol",
}
LEDGER = "SELECT phase, step, revision, checksum, objects FROM toolkit.ledger ORDER BY phase, step"


def _fill(db) -> None:
    """Rows in every queue partition, the usage table and the subscriptions."""
    db.execute(f"""
        INSERT INTO {QUEUE} (symbol, data_type, priority) SELECT 'P' || g, 'quote', g FROM generate_series(1, 5) g;
        INSERT INTO {QUEUE} (symbol, data_type, status, attempts, started_at, worker_id)
            SELECT 'R' || g, 'profile', 'processing', 1, now(), 'w1' FROM generate_series(1, 3) g;
        INSERT INTO {QUEUE} (symbol, data_type, status, attempts, started_at, finished_at, actual_bytes)
            SELECT 'C' || g, 'quote', 'completed', 1, now() - interval '1 minute', now(), 1200 FROM generate_series(1, 4) g;
        INSERT INTO {QUEUE} (symbol, data_type, status, attempts, finished_at, last_error)
            SELECT 'F' || g, 'quote', 'failed', 5, now(), 'HTTP 500' FROM generate_series(1, 2) g;
        INSERT INTO public.api_data_usage_v2 (bucket, calls, bytes, completed_jobs)
            SELECT date_trunc('minute', now()) - g * interval '1 minute', g, g * 1000, g FROM generate_series(1, 3) g;
        INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types)
            SELECT gen_random_uuid(), 'AAPL', ARRAY['quote'] FROM generate_series(1, 2);
    """)


def _rows(db) -> dict:
    return {name: db.rows(sql) for name, sql in ROWS.items()}


def test_upgrade_takes_a_live_database_to_the_new_revisions_keeping_every_row(staleness_db, project):
    db = staleness_db
    _fill(db)
    before = _rows(db)
    assert all(before.values()), {k: len(v) for k, v in before.items()}
    made = make_revisions(project)
    (q0, q1), (c0, c1) = made["api_call_queue"], made["get_queue_batch"]
    cli = Cli(db, project / "phases.yaml")

    planned = {s["step"]: s for p in ("1", "2") for s in json.loads(cli("--json", "phase", "plan", p).stdout)}
    assert planned["api_call_queue"]["state"] == "upgradable" and planned["api_call_queue"]["note"] == f"revision {q0} -> {q1}"
    assert planned["api_call_queue"]["upgrade"] == [f"phase1/api_call_queue/upgrade/{q0}-{q1}.sql"]
    assert planned["get_queue_batch"]["upgrade"] == [f"phase2/get_queue_batch/upgrade/{c0}-{c1}.sql",
                                                     f"phase2/get_queue_batch/deploy.sql (revision {c1}, run again)"]
    assert planned["is_data_stale"]["state"] == "applied"

    ledger_before = db.rows(LEDGER)
    dry = cli("phase", "upgrade", "all", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "ALTER TABLE public.api_call_queue_v2 ADD COLUMN note text;" in dry.stdout
    assert "DROP TYPE public.queue_claim_v2;" in dry.stdout and "CREATE OR REPLACE FUNCTION public.get_queue_batch_v2" in dry.stdout
    assert db.rows(LEDGER) == ledger_before and db.scalar(f"SELECT count(*) FROM pg_attribute WHERE attrelid = '{QUEUE}'::regclass AND attname = 'note'") == 0

    upgraded = cli("--json", "phase", "upgrade", "all")
    assert upgraded.exit_code == 0, upgraded.output
    results = {r["phase"]: r["result"] for r in json.loads(upgraded.stdout)}
    assert results == {0: "up to date", 1: "upgraded", 2: "upgraded", 3: "up to date", 4: "not applied",
                       5: "not applied", 6: "not applied"}

    assert _rows(db) == before
    assert db.rows("SELECT step, revision FROM toolkit.ledger WHERE step IN ('api_call_queue', 'get_queue_batch') "
                   "ORDER BY step") == [("api_call_queue", q1), ("get_queue_batch", c1)]
    assert db.rows("SELECT step, revision, detail FROM toolkit.history WHERE action = 'upgrade' ORDER BY step") == [
        ("api_call_queue", q1, f"revision {q0} -> {q1}"), ("get_queue_batch", c1, f"revision {c0} -> {c1}")]

    # The queue works, and the claim of revision 2 carries the new column along.
    db.execute(f"INSERT INTO {QUEUE} (symbol, data_type, priority, note) VALUES ('NOTE', 'quote', 1000, 'keep me')")
    with db.connect(autocommit=True) as conn:
        conn.execute("SET ROLE service_role")
        claimed = conn.execute("SELECT id, symbol, lease FROM public.get_queue_batch_v2('after-upgrade', 3)").fetchall()
        assert "NOTE" in {s for _, s, _ in claimed}
        assert conn.execute(f"SELECT note FROM {QUEUE}_processing WHERE symbol = 'NOTE'").fetchone() == ("keep me",)
        conn.execute("SELECT public.complete_queue_jobs_v2(%s, %s, %s)",
                     [[i for i, _, _ in claimed], [lease for _, _, lease in claimed], [1200] * len(claimed)])
        assert conn.execute(f"SELECT count(*) FROM {QUEUE}_completed WHERE worker_id = 'after-upgrade'").fetchone()[0] == len(claimed)
    for phase in ("0", "1", "2", "3"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output

    # Running it again changes nothing.
    after = db.rows(LEDGER)
    history = db.scalar("SELECT count(*) FROM toolkit.history WHERE action = 'upgrade'")
    again = cli("--json", "phase", "upgrade", "all")
    assert again.exit_code == 0 and {r["result"] for r in json.loads(again.stdout)} <= {"up to date", "not applied"}
    assert db.rows(LEDGER) == after
    assert db.scalar("SELECT count(*) FROM toolkit.history WHERE action = 'upgrade'") == history
    planned = {s["step"]: s for s in json.loads(cli("--json", "phase", "plan", "2").stdout)}
    assert (planned["get_queue_batch"]["state"], planned["get_queue_batch"]["note"]) == ("applied", f"revision {c1}")


def test_revert_of_a_step_goes_back_one_revision_only_with_a_down_script(staleness_db, project):
    db = staleness_db
    made = make_revisions(project)
    (q0, q1), (c0, c1) = made["api_call_queue"], made["get_queue_batch"]
    cli = Cli(db, project / "phases.yaml")
    assert cli("phase", "upgrade", "1..2").exit_code == 0
    upgraded_schema = db.schema_dump("public")

    refused = cli("--yes", "phase", "revert", "1", "--step", "api_call_queue")
    assert refused.exit_code == 2
    assert (f"phase 1 step api_call_queue cannot go back from revision {q1} to {q0}: revision {q1} has no down script "
            f"(phase1/api_call_queue/down/{q1}-{q0}.sql)") in refused.stderr
    first = cli("--yes", "phase", "revert", "1", "--step", "is_profile_stale")
    assert first.exit_code == 2 and "is at revision 1, its first" in first.stderr

    back = cli("--yes", "phase", "revert", "2", "--step", "get_queue_batch")
    assert back.exit_code == 0, back.output
    assert db.scalar("SELECT revision FROM toolkit.ledger WHERE step = 'get_queue_batch'") == c0
    # The previous revision's claim is back: it knows nothing of the note.
    assert "g.note" not in db.scalar("SELECT prosrc FROM pg_proc WHERE proname = 'get_queue_batch_v2'")
    planned = {s["step"]: s for s in json.loads(cli("--json", "phase", "plan", "2").stdout)}
    assert (planned["get_queue_batch"]["state"], planned["get_queue_batch"]["note"]) == ("upgradable", f"revision {c0} -> {c1}")
    assert cli("phase", "upgrade", "2").exit_code == 0
    assert db.schema_dump("public") == upgraded_schema


def test_an_upgrade_that_breaks_what_reads_its_objects_is_refused(staleness_db, project):
    db = staleness_db
    queue = project / "templates/sql/phase1/api_call_queue"
    k = newest(project, 1, "api_call_queue")
    made = Cli(None, project / "phases.yaml")("revisions", "new", "1", "api_call_queue", "--upgrade", "script",
                                              "--why", "no more last_error")
    assert made.exit_code == 0, made.output
    (queue / f"upgrade/{k}-{k + 1}.sql").write_text("ALTER TABLE public.api_call_queue{{ suffix }} DROP COLUMN last_error;\n")
    _edit(queue / "verify.sql", ("'estimated_bytes bigint', 'actual_bytes bigint', 'last_error text'", "'estimated_bytes bigint', 'actual_bytes bigint'"))
    before = db.rows(LEDGER)

    refused = Cli(db, project / "phases.yaml")("phase", "upgrade", "1")
    assert refused.exit_code == 1
    assert "upgrading phase 1 breaks phase 2 step get_queue_batch (revision" in refused.stderr
    assert "last_error" in refused.stderr and "nothing was changed" in refused.stderr
    assert db.rows(LEDGER) == before
    assert db.scalar(f"SELECT count(*) FROM pg_attribute WHERE attrelid = '{QUEUE}'::regclass AND attname = 'last_error'") == 1
