"""Everything real but the market-data API: PostgreSQL, the Deno-served Edge Functions, the
external ticker, and the sandbox server standing in for the provider."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from tests.conftest import ROOT, Database
from tests.queue_helpers import configure, enqueue
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.processor import Ticker
from toolkit.dev.sandbox.server import SandboxServer

SECRET = "test-secret-for-the-processor"
TIMEOUT_MS = 2000  # the processor's outbound timeout in these tests (10 s in production)
SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "WMT", "XOM",
           "JNJ", "PG", "MA", "HD", "KO", "PEP", "COST", "ORCL", "IBM", "INTC"]
EXCHANGES = ["NASDAQ", "NYSE", "AMEX", "LSE", "XETRA", "TSX", "ASX", "HKSE", "JPX", "EURONEXT"]
_names = itertools.count()


@pytest.fixture(scope="module")
def stack(cluster, staleness_template):
    """One database (phases 0-3), one sandbox and one served set of functions for the module."""
    name = f"t_processor_{next(_names)}"
    cluster.create_database(name, template=staleness_template)
    db = Database(name, cluster.conninfo(name), cluster)
    sandbox = SandboxServer(port=0).start()
    server = serve(db.url, names=load_plan(ROOT / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
                   market_data_url=sandbox.url, api_key="sandbox-key", timeout_ms=TIMEOUT_MS)
    ticker = Ticker(load_plan(ROOT / "phases.yaml").plan, target_from_url(db.url),
                    f"{server.functions_url}/queue-processor-v2", server.token())
    yield db, sandbox, ticker
    server.stop()
    sandbox.stop()
    cluster.drop_database(name)


@pytest.fixture
def fresh(stack):
    """A clean queue, budget, breaker and sandbox for each test."""
    db, sandbox, ticker = stack
    db.execute("TRUNCATE public.api_call_queue_v2, public.api_data_usage_v2")
    db.execute("UPDATE public.api_quota_state_v2 SET reserved_total = 0, released_cached = 0, cached_bytes = 0, "
               "call_ring = array_fill(0, ARRAY[cardinality(call_ring)])")
    db.execute("UPDATE public.processor_state_v2 SET breaker_state = 'closed', consecutive_failures = 0, "
               "opened_at = NULL, probe_started_at = NULL, closed_at = now(), "
               "run_id = NULL, run_started_at = NULL, run_ends_at = NULL, run_lease_until = NULL")
    # Each start drains what is due and returns (the once-a-minute processor), unless a test
    # asks for the continuous one.
    configure(db, calls_per_window=300, call_window_seconds=60, backoff_base_seconds=0.5, backoff_max_seconds=1,
              breaker_failure_threshold=5, breaker_open_seconds=1, max_attempts=5, processor_drain="once")
    sandbox.set_faults(error_rate=0, latency_ms=0, malformed_rate=0, force_status=None)
    sandbox.reset()
    return db, sandbox, ticker


def _enqueue(db, pairs: list[tuple[str, str]]) -> None:
    db.execute("SELECT public.queue_refreshes_v2(%s, %s, %s)",
               [[s for s, _ in pairs], [t for _, t in pairs], [0] * len(pairs)])


def _statuses(db) -> dict[str, int]:
    return dict(db.rows("SELECT status, count(*) FROM public.api_call_queue_v2 GROUP BY status"))


PER_SYMBOL = ["quote", "profile", "financial-statements", "ratios-ttm", "dividend-history", "shares-float",
              "revenue-segmentation", "grades-historical", "exchange-variants"]
TABLES = {"quote": "stock_quotes", "profile": "company_profiles", "financial-statements": "financial_statements",
          "ratios-ttm": "ratios_ttm", "dividend-history": "dividend_history", "shares-float": "shares_float",
          "revenue-segmentation": "revenue_segmentation", "grades-historical": "grades_historical",
          "exchange-variants": "exchange_variants"}


def test_200_jobs_of_all_eleven_types_drain_and_bytes_match_the_provider(fresh):
    db, sandbox, ticker = fresh
    pairs = [(s, t) for s in SYMBOLS for t in PER_SYMBOL] + [("*", "available-exchanges")] \
        + [(e, "exchange-market-status") for e in EXCHANGES]
    assert len(pairs) == 200
    _enqueue(db, pairs)
    started = db.scalar("SELECT now()")

    result = ticker.run(interval=0.5, until_empty=True, max_ticks=40)
    assert result["due"] == 0
    assert _statuses(db) == {"completed": 200}
    for data_type, table in TABLES.items():
        fresh_symbols = {r[0] for r in db.rows(f"SELECT DISTINCT symbol FROM public.{table} WHERE updated_at >= %s",
                                                [started])}
        if data_type == "dividend-history":  # companies that pay none (TSLA, AMZN, ...) have no rows
            assert len(fresh_symbols & set(SYMBOLS)) >= 10
        else:
            assert set(SYMBOLS) <= fresh_symbols, data_type
    assert db.scalar("SELECT count(*) FROM public.available_exchanges WHERE updated_at >= %s", [started]) > 10
    assert db.scalar("SELECT count(*) FROM public.exchange_market_status WHERE updated_at >= %s", [started]) == 10

    stats = sandbox.stats()
    calls, bytes_ = db.rows("SELECT sum(calls), sum(bytes) FROM public.api_data_usage_v2")[0]
    assert bytes_ == stats["bytes"] and calls == stats["calls"], stats
    assert stats["calls"] == 21 * (8 + 3) + 1 + 10


def test_a_429_storm_loses_nothing_opens_the_breaker_and_recovers(fresh):
    db, sandbox, ticker = fresh
    configure(db, breaker_failure_threshold=2)
    _enqueue(db, [(s, "quote") for s in SYMBOLS])
    sandbox.set_faults(force_status=429)
    for _ in range(2):
        db.execute("UPDATE public.api_call_queue_v2 SET scheduled_for = now() WHERE status = 'pending'")
        result = ticker.tick()
        assert result["processor"]["stopped_by"] == "rate_limited"
    assert db.scalar("SELECT breaker_state FROM public.processor_state_v2") == "open"
    skipped = ticker.tick()
    assert skipped["loop"]["reason"] == "circuit breaker open" and skipped["processor"] is None

    sandbox.set_faults(force_status=None)
    time.sleep(1.2)  # the breaker's open time
    result = ticker.run(interval=0.5, until_empty=True, max_ticks=30)
    assert result["due"] == 0
    db.execute("UPDATE public.api_call_queue_v2 SET scheduled_for = now() WHERE status = 'pending'")
    ticker.run(interval=0.5, until_empty=True, max_ticks=30)
    assert _statuses(db) == {"completed": len(SYMBOLS)}
    assert db.scalar("SELECT breaker_state FROM public.processor_state_v2") == "closed"
    assert sandbox.stats()["rate_limited"] == 0  # every 429 was forced: the budget itself never overran


def test_a_provider_slower_than_the_timeout_fails_and_retries_in_time(fresh):
    db, sandbox, ticker = fresh
    _enqueue(db, [("AAPL", "quote")])
    sandbox.set_faults(latency_ms=TIMEOUT_MS + 1500)
    t0 = time.monotonic()
    result = ticker.tick()
    assert time.monotonic() - t0 < TIMEOUT_MS / 1000 + 5
    assert result["processor"]["retried"] == 1
    row = db.rows("SELECT status, attempts, last_error FROM public.api_call_queue_v2")[0]
    assert row[0] == "pending" and row[1] == 1 and "time" in row[2].lower()

    sandbox.set_faults(latency_ms=0)
    db.execute("UPDATE public.api_call_queue_v2 SET scheduled_for = now()")
    assert ticker.tick()["processor"]["completed"] == 1


def test_unknown_symbols_fail_at_once_and_malformed_bodies_are_retried(fresh):
    db, sandbox, ticker = fresh
    _enqueue(db, [("ZZZZ", "quote")])
    ticker.tick()
    assert db.rows("SELECT status FROM public.api_call_queue_v2") == [("failed",)]
    assert "ZZZZ" in db.scalar("SELECT last_error FROM public.api_call_queue_v2")

    db.execute("TRUNCATE public.api_call_queue_v2")
    sandbox.set_faults(malformed_rate=1)
    _enqueue(db, [("MSFT", "profile")])
    ticker.tick()
    status, attempts, error = db.rows("SELECT status, attempts, last_error FROM public.api_call_queue_v2")[0]
    assert (status, attempts) == ("pending", 1) and "malformed" in error.lower()


def _since(db) -> object:
    return db.scalar("SELECT clock_timestamp()")


def _breaker_events(db, since) -> list[tuple[str, str]]:
    return db.rows("SELECT event, details ->> 'reason' FROM public.ops_events "
                   "WHERE event LIKE 'circuit breaker%%' AND at >= %s ORDER BY id", [since])


def test_the_provider_never_sees_more_calls_than_the_budget_however_slowly_it_answers(fresh):
    db, _, _ = fresh
    # The provider allows 60 calls in any 10 s, answers in 1.5 s for 5 s then at once for 5 s,
    # and the processor keeps 10 calls in flight. The budget is the provider's, in the plan.
    # Continuous runs: each keeps taking jobs while it lasts, waiting for the budget as it must.
    # The slack bounds the hop from a permit to the provider: on this machine, under the whole
    # suite's load, that hop took more than 0.75 s (the provider saw 75 calls in a window of 60
    # with a 500 ms slack), so the test gives it two seconds.
    configure(db, calls_per_window=60, call_window_seconds=10, call_slack_ms=2000, processor_drain="continuous")
    enqueue(db, 480, "quote", "Q")
    enqueue(db, 18, "financial-statements", "F")  # three calls at once each
    # '*' market status: one call per known exchange, counted as each is made.
    _enqueue(db, [("*", "exchange-market-status"), ("*", "available-exchanges")])
    db.execute("UPDATE public.api_call_queue_v2 SET priority = 100 WHERE symbol = '*' OR symbol LIKE 'F%%'")
    exchanges = db.scalar("SELECT count(*) FROM public.exchange_market_status")
    with SandboxServer(port=0, calls_per_minute=60, window_seconds=10, latency_ms=1500, slow_seconds=5,
                       fast_seconds=5) as provider, \
            serve(db.url, names=load_plan(ROOT / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
                  market_data_url=provider.url, api_key="sandbox-key", timeout_ms=TIMEOUT_MS,
                  env={"PROCESSOR_CONCURRENCY": "10"}) as server:
        ticker = Ticker(load_plan(ROOT / "phases.yaml").plan, target_from_url(db.url),
                        f"{server.functions_url}/queue-processor-v2", server.token())
        end = time.monotonic() + 30
        while time.monotonic() < end:
            result = ticker.tick({"timeBudgetMs": 8000})
            assert not (result["processor"] or {}).get("error"), result
            if result["loop"]["action"] != "external":
                time.sleep(0.3)
        seen = provider.calls(10)
        stats = provider.stats()
    # The provider's own count: never more than 60 calls in any 10 s, and no 429.
    assert seen["busiest"] <= 60, seen
    assert stats["rate_limited"] == 0 and stats["by_status"].get("429") is None, stats
    # The budget is used, not starved: 60 calls per 13 s at least (a call holds it 12.125 s at most:
    # window, 2 s slack, a 125 ms slot; loose for the slow waves).
    assert seen["calls"] >= 60 * (30 // 13), seen
    # The '*' job's calls, one per exchange (more when a run ended between its waves and it ran again).
    assert stats["by_endpoint"]["exchange-market-hours"]["calls"] >= exchanges
    assert db.rows("SELECT status FROM public.api_call_queue_v2 WHERE symbol = '*'") == [("completed",), ("completed",)]
    # Every permitted call was made, and counted once.
    assert db.scalar("SELECT sum(calls) FROM public.api_data_usage_v2") == seen["calls"]


def test_the_breaker_ignores_a_two_percent_error_rate_opens_at_a_hundred_and_probes_with_one_batch(fresh):
    db, sandbox, ticker = fresh
    since = _since(db)
    sandbox.set_faults(error_rate=0.02)
    enqueue(db, 150, "quote", "Q")
    ticker.run(interval=0.2, until_empty=True, max_ticks=60)
    assert db.scalar("SELECT count(*) FROM public.api_call_queue_v2_completed") >= 140
    assert _breaker_events(db, since) == []  # a failure in a run is not a failed run

    db.execute("DELETE FROM public.api_call_queue_v2 WHERE status = 'pending'")
    configure(db, backoff_base_seconds=30, backoff_max_seconds=60)  # failed jobs stay out of the next runs
    sandbox.set_faults(error_rate=0, force_status=503)
    states = []
    for i in range(5):  # runs whose every call fails, one after the other
        enqueue(db, 3, "quote", f"D{i}")
        result = ticker.tick()
        assert result["processor"]["calls"] == 3 and result["processor"]["provider_failures"] == 3
        states.append(db.scalar("SELECT breaker_state FROM public.processor_state_v2"))
    assert states == ["closed"] * 4 + ["open"]
    assert ticker.tick()["loop"]["reason"] == "circuit breaker open"

    # Healthy again: after the open time, one probe of at most a batch of calls closes it.
    sandbox.set_faults(force_status=None)
    sandbox.reset()
    enqueue(db, 30, "quote", "P")
    time.sleep(1.1)
    probe = ticker.tick()
    assert probe["loop"]["probe"] is True, probe
    assert probe["processor"]["stopped_by"] == "breaker" and probe["processor"]["calls"] <= 5
    assert sandbox.stats()["calls"] == probe["processor"]["calls"] <= 10  # one batch at most
    assert db.scalar("SELECT breaker_state FROM public.processor_state_v2") == "closed"
    events = _breaker_events(db, since)
    assert [e for e, _ in events] == ["circuit breaker opened", "circuit breaker half-open", "circuit breaker closed"]
    assert events[0][1].startswith("5 failed runs in a row") and "probe succeeded" in events[2][1]


def test_malformed_bodies_are_retried_until_every_job_completes(fresh):
    db, sandbox, ticker = fresh
    configure(db, max_attempts=10)
    sandbox.set_faults(malformed_rate=0.3)
    enqueue(db, 40, "quote", "M")
    deadline = time.monotonic() + 90
    while db.scalar("SELECT count(*) FROM public.api_call_queue_v2 WHERE status IN ('pending', 'processing')"):
        assert time.monotonic() < deadline, _statuses(db)
        ticker.run(interval=0.2, until_empty=True, max_ticks=30)
        time.sleep(0.3)
    assert _statuses(db) == {"completed": 40}
    attempts = [r[0] for r in db.rows("SELECT attempts FROM public.api_call_queue_v2")]
    assert max(attempts) > 1 and max(attempts) < 10, attempts  # retried, never to the last attempt
    assert sandbox.stats()["by_status"]["200"]["calls"] > 40  # the malformed answers were 200s too


# -- continuous runs ----------------------------------------------------------------------------

def _run_in_background(ticker, body: dict) -> tuple[threading.Thread, dict]:
    answer: dict = {}
    t = threading.Thread(target=lambda: answer.update(ticker.tick(body)), daemon=True)
    t.start()
    return t, answer


def _wait_for(what: str, probe, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def _holder(db):
    return db.scalar("SELECT run_id FROM public.processor_state_v2 WHERE run_lease_until > clock_timestamp()")


def test_a_continuous_run_takes_jobs_queued_while_it_waits_and_one_run_at_a_time(fresh):
    db, sandbox, ticker = fresh
    configure(db, processor_drain="continuous")
    run, answer = _run_in_background(ticker, {"runSeconds": 30})
    first = _wait_for("the run holding the processor", lambda: _holder(db))
    # Nothing is due: the run waits instead of returning. Jobs queued now are its to take.
    time.sleep(0.5)
    _enqueue(db, [("AAPL", "quote"), ("MSFT", "quote")])
    _wait_for("the jobs queued meanwhile completed",
              lambda: db.scalar("SELECT count(*) FROM public.api_call_queue_v2_completed") == 2)
    assert run.is_alive() and _holder(db) == first  # by the run in progress, which goes on
    # The next start finds it running and does nothing; a call past the loop finds it busy.
    again = ticker.tick()
    assert again["processor"] is None and again["loop"]["reason"] == "a processor run is in progress", again
    assert ticker._call({"drain": "once"})["stopped_by"] == "busy"
    # A stop asked for (what the ticker does on SIGTERM) ends the run at its next renewal.
    assert ticker._fetch("stop_run") == 1
    run.join(15)
    assert not run.is_alive()
    summary = answer["processor"]
    assert (summary["drain"], summary["stopped_by"], summary["completed"]) == ("continuous", "stopped", 2), summary
    assert summary["polls"] > 0
    assert sandbox.stats()["calls"] == 2 and _holder(db) is None


def test_the_start_as_a_run_ends_takes_over_from_it(fresh):
    db, _, ticker = fresh
    configure(db, processor_drain="continuous")
    first_run, first = _run_in_background(ticker, {"runSeconds": 2})
    a = _wait_for("the first run holding the processor", lambda: _holder(db))
    # The first run ends within the handover time: this start's run waits for it, then takes over.
    second_run, second = _run_in_background(ticker, {"runSeconds": 8})
    b = _wait_for("the second run taking over", lambda: (_holder(db) or a) != a and _holder(db), timeout=30)
    first_run.join(15)
    assert first["processor"]["stopped_by"] == "budget", first
    _enqueue(db, [("NVDA", "quote")])
    second_run.join(30)
    assert second["loop"]["action"] == "external" and second["processor"]["completed"] == 1, second
    assert second["processor"]["stopped_by"] == "budget" and b != a
    assert db.rows("SELECT worker_id FROM public.api_call_queue_v2_completed") == [(b,)]


def test_a_continuous_drain_spends_the_budget_as_its_window_frees_calls_across_runs(fresh):
    db, _, _ = fresh
    # A standing backlog larger than the budget: 20 calls in any 12 s, counted over 14.125 s (2 s
    # slack, a 125 ms slot). Starts every 10 s of runs of 10 s, as pg_cron's every minute
    # of runs of 60 s: each run spends what the window has left at once, then waits. The starts
    # while the budget is spent still start runs, so every 14.125 s the window frees 20 calls and
    # a run takes them (80 in 50 s); were such starts held back, the budget would be taken only
    # at the starts that find it free, every 20 s (60 in 50 s).
    configure(db, calls_per_window=20, call_window_seconds=12, call_slack_ms=2000,
              processor_drain="continuous", processor_run_seconds=10)
    enqueue(db, 300, "quote", "B")
    reports: list[dict] = []
    stop = threading.Event()
    with SandboxServer(port=0, calls_per_minute=20, window_seconds=12) as provider, \
            serve(db.url, names=load_plan(ROOT / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
                  market_data_url=provider.url, api_key="sandbox-key", timeout_ms=TIMEOUT_MS) as server:
        ticker = Ticker(load_plan(ROOT / "phases.yaml").plan, target_from_url(db.url),
                        f"{server.functions_url}/queue-processor-v2", server.token())
        runs = threading.Thread(target=lambda: ticker.run(10, False, None, reports.append, stop=stop), daemon=True)
        runs.start()
        time.sleep(50)
        stop.set()
        runs.join(60)
        seen = provider.calls(12)
        stats = provider.stats()
    assert not runs.is_alive()
    assert not [r for r in reports if (r["processor"] or {}).get("error")], reports
    assert not [r for r in reports if r["loop"].get("reason") == "quota exhausted"], reports
    # The provider's own count: never more than 20 calls in any 12 s, and no 429.
    assert seen["busiest"] <= 20, seen
    assert stats["rate_limited"] == 0, stats
    # The budget is spent as the window frees it: four windows' worth in 50 s, not three.
    assert seen["calls"] >= 70, (seen["calls"], seen["per_second"], reports)
    assert db.scalar("SELECT sum(calls) FROM public.api_data_usage_v2") == seen["calls"]


def test_a_standing_backlog_gets_the_budget_back_window_plus_slack_after_each_call(fresh):
    db, _, _ = fresh
    # 20 calls in any 4 s, a slack of 0.5 s, slots of 125 ms: a call holds the budget 4.5 to
    # 4.625 s, then a continuous drain takes the call it frees when it frees (it sleeps until then).
    # So the 20th call after each call comes about 5 s after it (whole-second slots: over 6 s),
    # and never within 4 s (the provider's window: no 429).
    configure(db, calls_per_window=20, call_window_seconds=4, call_slack_ms=500,
              processor_drain="continuous", processor_run_seconds=10)
    enqueue(db, 300, "quote", "B")
    stop = threading.Event()
    with SandboxServer(port=0, calls_per_minute=20, window_seconds=4) as provider, \
            serve(db.url, names=load_plan(ROOT / "phases.yaml").plan.names, port=None, jwt_secret=SECRET,
                  market_data_url=provider.url, api_key="sandbox-key", timeout_ms=TIMEOUT_MS) as server:
        ticker = Ticker(load_plan(ROOT / "phases.yaml").plan, target_from_url(db.url),
                        f"{server.functions_url}/queue-processor-v2", server.token())
        runs = threading.Thread(target=lambda: ticker.run(10, False, None, stop=stop), daemon=True)
        runs.start()
        _wait_for("four windows of calls", lambda: len(provider.arrivals()) >= 100, timeout=60)
        stop.set()
        arrived = provider.arrivals()
        stats = provider.stats()
        runs.join(60)
    assert stats["rate_limited"] == 0, stats
    gaps = [later - earlier for earlier, later in zip(arrived, arrived[20:100])]
    assert min(gaps) > 4, min(gaps)
    mean = sum(gaps) / len(gaps)
    assert mean < 5.25, f"a call held the budget {mean:.2f} s on average (window 4 s, slack 0.5 s)"
