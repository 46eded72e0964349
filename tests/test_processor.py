"""Everything real but the market-data API: PostgreSQL, the Deno-served Edge Functions, the
external ticker, and the sandbox server standing in for the provider."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.conftest import ROOT, Database, apply_phases
from tests.queue_helpers import configure
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.processor import Ticker
from toolkit.dev.sandbox.server import SandboxServer

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
    server = serve(db.url, names=load_plan(ROOT / "phases.yaml").plan.names, port=None, jwt_secret="test-secret-for-the-processor",
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
               "opened_at = NULL, probe_started_at = NULL")
    configure(db, calls_per_window=300, call_window_seconds=60, backoff_base_seconds=0.5, backoff_max_seconds=1,
              breaker_failure_threshold=5, breaker_open_seconds=1)
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
