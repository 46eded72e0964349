"""`toolkit queue ...` against a database with phases 0-2 applied."""

from __future__ import annotations

import json

from tests.conftest import ROOT, Cli


def _cli(db) -> Cli:
    return Cli(db, ROOT / "phases.yaml")


def test_enqueue_status_retry_and_purge(queue_db):
    cli = _cli(queue_db)
    first = cli("--json", "queue", "enqueue", "aapl", "quote", "--priority", "2")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["outcome"] == "queued"
    assert json.loads(cli("--json", "queue", "enqueue", "AAPL", "quote", "--priority", "5").stdout)["outcome"] == "raised"

    status = cli("--json", "queue", "status")
    assert status.exit_code == 0
    info = json.loads(status.stdout)
    assert info["metrics"]["pending"] == 1 and info["quota"]["calls_limit"] == 300
    assert info["depth"] == [{"status": "pending", "data_type": "quote", "jobs": 1, "due": 1}]

    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at, last_error) "
        "SELECT 'F' || g, 'profile', 'failed', now() - interval '3 days', 'HTTP 500' FROM generate_series(1, 4) g")
    retried = cli("--json", "queue", "retry-failed", "--type", "profile", "--limit", "3")
    assert json.loads(retried.stdout)["requeued"] == 3

    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at) "
        "SELECT 'C' || g, 'quote', 'completed', now() - interval '10 days' FROM generate_series(1, 12) g")
    purged = cli("--yes", "--json", "queue", "purge", "--older-than", "2d", "--batch", "5")
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.stdout)["deleted"] == 13  # 12 completed and the one failed job left
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2 WHERE status IN ('completed', 'failed')") == 0


def test_bad_input_is_refused_with_a_message(queue_db):
    cli = _cli(queue_db)
    for args, message in [
        (("queue", "enqueue", "AAPL", "nope"), "unknown data type"),
        (("queue", "enqueue", "AA PL; drop", "quote"), "not a ticker symbol"),
        (("--yes", "queue", "purge", "--older-than", "soon"), "not a duration"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 0


def test_queue_commands_say_when_the_queue_is_not_deployed(cli):
    result = cli("queue", "status")
    assert result.exit_code == 2
    assert "toolkit phase apply 2" in result.stderr
