"""One symbol rule: the deployed SQL function, the Python check and the Edge Functions' check
judge one table of cases alike and refuse with one message; every entry point refuses."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, Cli
from toolkit import edge, rules

CASES = ["AAPL", "BRK.B", "BF-B", "^GSPC", "0700.HK", "A", "A" * 12, "A" * 13, "", "aapl", ".A", "-A", "A B",
         "AAPL; DROP", "'; DROP TABLE x; --", "*", "AAPL\u200b", "ÄPPL", "A" * 10_000, "X'Y", "A^B.C-D"]


def _ts(cases: list[str]) -> list[list]:
    """[valid, message] per case from _shared/subscription.ts, run by Deno."""
    script = ("import { SYMBOL, symbolMessage } from './_shared/subscription.ts';\n"
              f"const cases: string[] = {json.dumps(cases)};\n"
              "console.log(JSON.stringify(cases.map((c) => [SYMBOL.test(c), symbolMessage(c)])));\n")
    out = subprocess.run([edge.deno_bin(), "eval", "--ext=ts", script], cwd=ROOT / "templates/edge",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_sql_python_and_typescript_judge_every_case_alike(queue_db):
    sql = queue_db.rows("SELECT c, public.is_valid_symbol(c), public.symbol_error(c) FROM unnest(%s::text[]) AS c",
                        [CASES])
    ts = _ts(CASES)
    for (case, sql_ok, sql_message), (ts_ok, ts_message) in zip(sql, ts):
        assert rules.is_valid_symbol(case) is sql_ok is ts_ok, case
        if not sql_ok:
            assert sql_message == rules.symbol_message(case) == ts_message, case
    assert [c for c, ok, _ in sql if ok] == ["AAPL", "BRK.B", "BF-B", "0700.HK", "A", "A" * 12, "A^B.C-D"]


@pytest.mark.parametrize("symbol", ["A" * 10_000, "'; DROP TABLE x; --", "AAPL\u200b"])
def test_every_sql_entry_point_refuses_a_bad_symbol_with_the_one_message(staleness_db, symbol):
    message = rules.symbol_message(symbol)
    calls = [("SELECT * FROM public.queue_refresh_if_not_exists_v2(%s, 'quote', 0)", [symbol]),
             ("SELECT * FROM public.queue_refreshes_v2(ARRAY[%s], ARRAY['quote'], ARRAY[0])", [symbol]),
             ("SELECT * FROM public.check_and_queue_stale_batch_v2(%s, ARRAY['quote'], 0)", [symbol])]
    for sql, params in calls:
        with pytest.raises(Exception) as refused:
            staleness_db.execute(sql, params)
        assert refused.value.diag.message_primary == message, sql
        assert refused.value.sqlstate == "22023"
    answer = staleness_db.scalar("SELECT public.track_subscription_v2(gen_random_uuid(), %s, ARRAY['quote'])", [symbol])
    assert answer == {"status": "invalid", "error": message}
    assert staleness_db.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 0


def test_priorities_are_bounded_where_they_enter(staleness_db):
    for sql in ("SELECT * FROM public.queue_refresh_if_not_exists_v2('AAPL', 'quote', 2147483647)",
                "SELECT * FROM public.queue_refreshes_v2(ARRAY['AAPL'], ARRAY['quote'], ARRAY[-2000000])",
                "SELECT * FROM public.check_and_queue_stale_batch_v2('AAPL', ARRAY['quote'], 2147483647)"):
        with pytest.raises(Exception) as refused:
            staleness_db.execute(sql)
        assert "is out of range" in refused.value.diag.message_primary and refused.value.sqlstate == "22023"


def test_the_cli_refuses_with_the_same_message_before_connecting(db):
    cli = Cli(db, ROOT / "phases.yaml")
    bad = cli("queue", "enqueue", "A B", "quote")
    assert bad.exit_code == 2 and rules.symbol_message("A B") in bad.output
    big = cli("queue", "enqueue", "AAPL", "quote", "--priority", "99999999999")
    assert big.exit_code == 2 and "out of range" in big.output and "does not exist" not in big.output
