"""The FMP sandbox: payload shapes and determinism, FMP's errors, the per-minute limit, the fault
knobs, exact stats, keep-alive, and the `toolkit sandbox` commands. No database needed."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.dev.processes import free_port
from toolkit.dev.sandbox import Sandbox, SandboxServer
from toolkit.dev.sandbox.payloads import ENDPOINTS, payload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy


def fetch(url: str, timeout: float = 10, data: bytes | None = None):
    """(status, headers, body) of a request; HTTP errors are answers too."""
    try:
        with _OPENER.open(urllib.request.Request(url, data=data), timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def call(server: SandboxServer, endpoint: str, **query):
    query.setdefault("apikey", "test-key")
    query = {k: v for k, v in query.items() if v is not None}
    return fetch(f"{server.url}/{endpoint}?{urllib.parse.urlencode(query)}")


def subject(endpoint: str) -> dict:
    key = ENDPOINTS[endpoint].key
    return {"symbol": "AAPL"} if key == "symbol" else {"exchange": "NASDAQ"} if key else {}




class FakeClock:
    """Monotonic time the test moves by hand: a minute passes without waiting a minute."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server():
    with SandboxServer(calls_per_minute=100_000) as s:
        yield s


@pytest.fixture
def fresh():
    with SandboxServer(calls_per_minute=100_000) as s:
        yield s


# ------------------------------------------------------------------------------------------
# Payloads
# ------------------------------------------------------------------------------------------
SHAPES = {
    "quote": ({"symbol", "name", "price", "changesPercentage", "change", "volume", "avgVolume", "marketCap",
               "previousClose", "eps", "pe", "earningsAnnouncement", "sharesOutstanding", "timestamp"}, 1, 1),
    "profile": ({"symbol", "companyName", "description", "ceo", "cik", "isin", "isEtf", "ipoDate", "range"}, 1, 1),
    "income-statement": ({"date", "fiscalYear", "period", "revenue", "grossProfit", "netIncome", "eps"}, 5, 5),
    "balance-sheet-statement": ({"date", "period", "totalAssets", "totalLiabilities", "totalEquity"}, 5, 5),
    "cash-flow-statement": ({"date", "period", "operatingCashFlow", "capitalExpenditure", "freeCashFlow"}, 5, 5),
    "ratios-ttm": ({"symbol", "grossProfitMarginTTM", "priceToEarningsRatioTTM", "dividendYieldTTM"}, 1, 1),
    "dividends": ({"symbol", "date", "recordDate", "paymentDate", "dividend", "adjDividend", "frequency"}, 10, 100),
    "shares-float": ({"symbol", "date", "freeFloat", "floatShares", "outstandingShares"}, 1, 1),
    "revenue-product-segmentation": ({"symbol", "fiscalYear", "period", "date", "data"}, 3, 10),
    "grades-historical": ({"symbol", "date", "analystRatingsBuy", "analystRatingsHold"}, 10, 100),
    "search-exchange-variants": ({"symbol", "companyName", "exchange", "exchangeShortName", "currency", "price"}, 2, 6),
    "available-exchanges": ({"exchange", "name", "countryName", "countryCode", "symbolSuffix", "delay"}, 30, 100),
    "exchange-market-hours": ({"exchange", "name", "openingHour", "closingHour", "timezone", "isMarketOpen"}, 1, 1),
}


def test_every_endpoint_of_the_plan_is_served():
    import yaml

    plan = yaml.safe_load(open(os.path.join(ROOT, "phases.yaml")))
    planned = {e for t in plan["data_types"] for e in t["endpoints"]}
    assert planned == set(ENDPOINTS) == set(SHAPES)


@pytest.mark.parametrize("endpoint", sorted(SHAPES))
def test_known_symbol_gets_the_expected_shape_byte_identical_on_repeat(server, endpoint):
    status, headers, body = call(server, endpoint, **subject(endpoint))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    rows = json.loads(body)
    keys, at_least, at_most = SHAPES[endpoint]
    assert isinstance(rows, list) and at_least <= len(rows) <= at_most
    assert all(isinstance(r, dict) and keys <= set(r) for r in rows)
    assert call(server, endpoint, **subject(endpoint))[2] == body


def test_payload_sizes_are_realistic(server):
    sizes = {ep: len(call(server, ep, **subject(ep))[2]) for ep in ENDPOINTS}
    assert 400 < sizes["quote"] < 1500
    assert len(json.loads(call(server, "quote", symbol="AAPL")[2])[0]) >= 20
    assert len(json.loads(call(server, "profile", symbol="AAPL")[2])[0]) >= 35
    assert len(json.loads(call(server, "profile", symbol="AAPL")[2])[0]["description"]) > 800
    assert all(len(row) >= 35 for row in json.loads(call(server, "income-statement", symbol="AAPL")[2]))
    assert sizes["dividends"] > 10_000 and sizes["grades-historical"] > 10_000


def test_payloads_are_deterministic_across_processes():
    # sha256 seeding, not hash(): another process with another hash seed gets the same bytes.
    code = ("import hashlib; from toolkit.dev.sandbox.payloads import payload; "
            "print(hashlib.sha256(payload('income-statement', {'symbol': 'AAPL', 'period': 'quarter'})).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    expected = hashlib.sha256(payload("income-statement", {"symbol": "AAPL", "period": "quarter"})).hexdigest()
    assert out.stdout.strip() == expected


def test_values_are_plausible_and_consistent(server):
    quote = json.loads(call(server, "quote", symbol="AAPL")[2])[0]
    profile = json.loads(call(server, "profile", symbol="AAPL")[2])[0]
    assert quote["price"] == profile["price"] == 229.0  # the legacy seed's price
    assert quote["dayLow"] <= quote["price"] <= quote["dayHigh"]
    assert quote["marketCap"] == round(quote["price"] * quote["sharesOutstanding"])
    income = json.loads(call(server, "income-statement", symbol="AAPL")[2])
    balance = json.loads(call(server, "balance-sheet-statement", symbol="AAPL")[2])
    cash = json.loads(call(server, "cash-flow-statement", symbol="AAPL")[2])
    for i, b, c in zip(income, balance, cash):
        assert i["date"] == b["date"] == c["date"]
        assert i["grossProfit"] == i["revenue"] - i["costOfRevenue"]
        assert b["totalAssets"] == b["totalLiabilities"] + b["totalEquity"] == b["totalLiabilitiesAndTotalEquity"]
        assert c["netIncome"] == i["netIncome"] and c["freeCashFlow"] == c["operatingCashFlow"] + c["capitalExpenditure"]
        assert c["cashAtEndOfPeriod"] == b["cashAndCashEquivalents"]
    dates = [r["date"] for r in income]
    assert dates == sorted(dates, reverse=True) and all(r["period"] == "FY" for r in income)
    segments = json.loads(call(server, "revenue-product-segmentation", symbol="AAPL")[2])[0]
    assert sum(segments["data"].values()) == income[0]["revenue"]
    assert json.loads(call(server, "dividends", symbol="AMZN")[2]) == []  # a non-payer


def test_limit_and_period_parameters(server):
    assert len(json.loads(call(server, "income-statement", symbol="MSFT", limit=2)[2])) == 2
    quarters = json.loads(call(server, "cash-flow-statement", symbol="MSFT", period="quarter", limit=8)[2])
    assert len(quarters) == 8 and {r["period"] for r in quarters} == {"Q1", "Q2", "Q3", "Q4"}
    assert {r["period"] for r in json.loads(call(server, "income-statement", symbol="MSFT", period="Q2")[2])} == {"Q2"}
    assert len(json.loads(call(server, "dividends", symbol="KO", limit=7)[2])) == 7
    assert len(json.loads(call(server, "grades-historical", symbol="KO", limit=12)[2])) == 12
    assert call(server, "income-statement", symbol="MSFT", limit="abc")[0] == 400
    assert call(server, "income-statement", symbol="MSFT", period="monthly")[0] == 400


def _columns(table: str) -> set[str]:
    """The columns of a table of the legacy schema (paren-aware split of its CREATE TABLE)."""
    sql = open(os.path.join(ROOT, "examples", "legacy_app", "schema.sql")).read()
    body = re.search(rf"CREATE TABLE IF NOT EXISTS public\.{table} \((.*?)\n\);", sql, re.S).group(1)
    parts, depth, current = [], 0, ""
    for ch in re.sub(r"--[^\n]*", "", body):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    words = [p.split()[0] for p in parts + [current] if p.strip()]
    return {w for w in words if w not in ("PRIMARY", "updated_at")}


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join("TTM" if w == "ttm" else w.capitalize() for w in rest)


# Columns whose field is named differently (or that do not come from the payload).
RENAMED = {
    "stock_quotes": {"quote_timestamp": "timestamp"},
    "dividend_history": {"ex_date": "date"},
    "shares_float": {"source_date": "date"},
    "exchange_variants": {"variant_symbol": "symbol", "symbol": None},   # symbol: the one asked about
    "financial_statements": {"statement_type": None, "data": None},     # the endpoint; the whole row
}
TABLES = {"stock_quotes": "quote", "company_profiles": "profile", "ratios_ttm": "ratios-ttm",
          "dividend_history": "dividends", "shares_float": "shares-float",
          "revenue_segmentation": "revenue-product-segmentation", "grades_historical": "grades-historical",
          "exchange_variants": "search-exchange-variants", "available_exchanges": "available-exchanges",
          "exchange_market_status": "exchange-market-hours", "financial_statements": "income-statement"}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_fields_map_onto_the_legacy_columns(table):
    endpoint = TABLES[table]
    row = json.loads(payload(endpoint, subject(endpoint)))[0]
    renamed = RENAMED.get(table, {})
    wanted = {renamed.get(c, _camel(c)) for c in _columns(table)} - {None}
    assert wanted <= set(row), f"{endpoint} lacks {sorted(wanted - set(row))}"


# ------------------------------------------------------------------------------------------
# FMP's errors
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", sorted(e for e in ENDPOINTS if ENDPOINTS[e].key))
def test_unknown_symbol_is_an_empty_list(server, endpoint):
    key = ENDPOINTS[endpoint].key
    status, _, body = call(server, endpoint, **{key: "ZZZZ"})
    assert (status, body) == (200, b"[]")


@pytest.mark.parametrize("symbol", ["aapl", "AAPL;DROP", "", "ABCDEFGHIJKLM", "A B"])
def test_implausible_symbol_is_400(server, symbol):
    status, _, body = call(server, "quote", symbol=symbol)
    assert status == 400 and "Error Message" in json.loads(body)


def test_missing_symbol_is_400(server):
    assert call(server, "profile")[0] == 400


def test_missing_or_wrong_api_key_is_401(server):
    status, _, body = fetch(f"{server.url}/quote?symbol=AAPL")
    assert status == 401 and json.loads(body)["Error Message"].startswith("Invalid API KEY")
    assert call(server, "quote", symbol="AAPL", apikey="")[0] == 401
    with SandboxServer(api_key="s3cret") as strict:
        assert call(strict, "quote", symbol="AAPL", apikey="other")[0] == 401
        assert call(strict, "quote", symbol="AAPL", apikey="s3cret")[0] == 200


def test_unknown_endpoint_is_404(server):
    assert call(server, "no-such-endpoint", symbol="AAPL")[0] == 404
    assert fetch(f"{server.root_url}/api/v3/quote/AAPL?apikey=k")[0] == 404


# ------------------------------------------------------------------------------------------
# The per-minute limit
# ------------------------------------------------------------------------------------------
def test_the_301st_call_in_a_minute_is_429():
    clock = FakeClock()
    sandbox = Sandbox(clock=clock)  # the default plan: 300 calls per minute
    statuses = [sandbox.answer("/stable/shares-float", {"symbol": "AAPL", "apikey": "k"}).status for _ in range(301)]
    assert statuses == [200] * 300 + [429]
    clock.now += 60
    assert sandbox.answer("/stable/shares-float", {"symbol": "AAPL", "apikey": "k"}).status == 200


def test_rate_limit_over_http_with_a_sliding_window():
    clock = FakeClock()
    with SandboxServer(calls_per_minute=5, clock=clock) as s:
        assert [call(s, "quote", symbol="AAPL")[0] for _ in range(3)] == [200] * 3
        clock.now += 30
        assert [call(s, "profile", symbol="AAPL")[0] for _ in range(2)] == [200] * 2  # across endpoints
        status, headers, body = call(s, "quote", symbol="AAPL")
        assert status == 429 and headers["Retry-After"] == "30" and "Limit Reach" in json.loads(body)["Error Message"]
        clock.now += 30.5  # the first three expire, the two at t=30 do not
        assert [call(s, "quote", symbol="AAPL")[0] for _ in range(4)] == [200, 200, 200, 429]
        stats = s.stats()
        assert stats["rate_limited"] == 2 and stats["by_status"]["429"]["calls"] == 2
        assert stats["window"] == {"seconds": 60.0, "calls": 5, "limit": 5}
        s.reset()  # frees the window
        assert call(s, "quote", symbol="AAPL")[0] == 200


def test_rejected_calls_do_not_use_the_budget():
    clock = FakeClock()
    with SandboxServer(calls_per_minute=2, clock=clock) as s:
        assert call(s, "quote", symbol="AAPL", apikey=None)[0] == 401
        assert [call(s, "quote", symbol="AAPL")[0] for _ in range(3)] == [200, 200, 429]


def test_the_call_log_counts_every_call_as_it_arrives_and_finds_the_busiest_window():
    clock = FakeClock()
    with SandboxServer(calls_per_minute=10_000, clock=clock) as s:
        for at in (0.0, 0.2, 0.9, 5.0, 9.95, 10.0, 10.1, 30.0):
            clock.now = 1000.0 + at
            call(s, "quote", symbol="AAPL")
        call(s, "quote", symbol="AAPL", apikey=None)  # refused (401), still a call the provider saw
        status, _, body = fetch(f"{s.root_url}/_sandbox/calls?window=10")
        assert fetch(f"{s.root_url}/_sandbox/calls?window=0")[0] == 400
    log = json.loads(body)
    assert status == 200 and log["calls"] == 9
    # [0.2, 10.2) holds 0.2, 0.9, 5.0, 9.95, 10.0, 10.1: a window may start between whole seconds.
    assert (log["busiest"], log["busiest_from"]) == (6, 1000.2)
    assert log["per_second"] == [[1000, 3], [1005, 1], [1009, 1], [1010, 2], [1030, 2]]
    assert s.calls(0.5)["busiest"] == 3  # 9.95, 10.0 and 10.1


def test_latency_can_come_in_waves():
    clock = FakeClock()
    sandbox = Sandbox(clock=clock, latency_ms=3000, slow_seconds=5, fast_seconds=5)
    delays = []
    for at in (0, 4.9, 5.0, 9.9, 10.0, 17):
        clock.now = 1000.0 + at
        delays.append(sandbox.answer("/stable/quote", {"symbol": "AAPL", "apikey": "k"}).delay)
    assert delays == [3.0, 3.0, 0.0, 0.0, 3.0, 0.0]
    sandbox.set_faults(slow_seconds=0)  # no waves: the latency always
    assert sandbox.answer("/stable/quote", {"symbol": "AAPL", "apikey": "k"}).delay == 3.0
    with pytest.raises(ValueError, match="fast_seconds"):
        sandbox.set_faults(fast_seconds=-1)


# ------------------------------------------------------------------------------------------
# Fault knobs
# ------------------------------------------------------------------------------------------
def test_error_rate_one_gives_5xx():
    with SandboxServer(error_rate=1) as s:
        answers = [call(s, "quote", symbol="AAPL") for _ in range(12)]
    assert {a[0] for a in answers} <= {500, 502, 503} and len({a[0] for a in answers}) > 1
    assert all("Error Message" in json.loads(a[2]) for a in answers)


def test_error_rate_is_a_seeded_share():
    def run(seed):
        sandbox = Sandbox(error_rate=0.3, seed=seed, calls_per_minute=10_000)
        return [sandbox.answer("/stable/quote", {"symbol": "AAPL", "apikey": "k"}).status for _ in range(400)]
    first = run(7)
    assert 0.2 < sum(s >= 500 for s in first) / len(first) < 0.4
    assert run(7) == first and run(8) != first


def test_malformed_rate_one_gives_200_with_broken_json():
    with SandboxServer(malformed_rate=1) as s:
        for endpoint in ("quote", "income-statement", "available-exchanges"):
            status, headers, body = call(s, endpoint, **subject(endpoint))
            assert status == 200 and int(headers["Content-Length"]) == len(body) > 0
            with pytest.raises(ValueError):
                json.loads(body)
        status, _, body = call(s, "quote", symbol="ZZZZ")  # even an empty list
        assert status == 200 and body == b"["


def test_latency_delays_answers_but_not_the_control_api():
    with SandboxServer(latency_ms=300) as s:
        started = time.perf_counter()
        assert call(s, "quote", symbol="AAPL")[0] == 200
        assert time.perf_counter() - started >= 0.3
        started = time.perf_counter()
        assert fetch(f"{s.root_url}/_sandbox/health")[0] == 200
        assert time.perf_counter() - started < 0.3


def test_force_status_answers_everything():
    with SandboxServer(force_status=503) as s:
        assert call(s, "quote", symbol="AAPL")[0] == 503
        assert call(s, "quote", symbol="AAPL", apikey=None)[0] == 503
        s.set_faults(force_status=429)
        status, headers, _ = call(s, "profile", symbol="AAPL")
        assert status == 429 and headers["Retry-After"] == "60"
        s.set_faults(force_status=None)
        assert call(s, "quote", symbol="AAPL")[0] == 200
        assert s.stats()["rate_limited"] == 0  # forced 429s are not the limiter's


def test_set_faults_at_run_time_through_the_control_api(fresh):
    url = f"{fresh.root_url}/_sandbox/faults"
    status, _, body = fetch(url, data=json.dumps({"error_rate": 1, "latency_ms": 10}).encode())
    assert status == 200
    assert json.loads(body) == {"error_rate": 1, "latency_ms": 10, "slow_seconds": 0.0, "fast_seconds": 0.0,
                                "malformed_rate": 0.0, "force_status": None, "calls_per_minute": 100_000}
    assert call(fresh, "quote", symbol="AAPL")[0] >= 500
    assert fresh.set_faults(error_rate=0, latency_ms=0)["error_rate"] == 0
    assert call(fresh, "quote", symbol="AAPL")[0] == 200
    fetch(url, data=json.dumps({"calls_per_minute": 3}).encode())  # two calls already in the window
    assert [call(fresh, "quote", symbol="AAPL")[0] for _ in range(2)] == [200, 429]
    for bad in ({"error_rate": 2}, {"nonsense": 1}, {"force_status": 200}, [1], "not json"):
        raw = bad.encode() if isinstance(bad, str) else json.dumps(bad).encode()
        assert fetch(url, data=raw)[0] == 400
    assert json.loads(fetch(url)[2])["calls_per_minute"] == 3
    with pytest.raises(ValueError):
        fresh.set_faults(latency_ms=-1)


# ------------------------------------------------------------------------------------------
# Stats, reset, control API
# ------------------------------------------------------------------------------------------
def test_stats_count_calls_and_exact_bytes(fresh):
    answers = [
        ("quote", call(fresh, "quote", symbol="AAPL")),
        ("quote", call(fresh, "quote", symbol="AAPL")),
        ("quote", call(fresh, "quote", symbol="ZZZZ")),
        ("quote", call(fresh, "quote", symbol="bad symbol")),
        ("quote", call(fresh, "quote", symbol="AAPL", apikey=None)),
        ("profile", call(fresh, "profile", symbol="MSFT")),
        ("dividends", call(fresh, "dividends", symbol="KO")),
        ("(unknown)", call(fresh, "nope", symbol="AAPL")),
    ]
    for _ in range(3):  # the control API is neither counted nor limited
        fetch(f"{fresh.root_url}/_sandbox/stats")
        fetch(f"{fresh.root_url}/_sandbox/health")
    stats = json.loads(fetch(f"{fresh.root_url}/_sandbox/stats")[2])
    assert stats["calls"] == len(answers)
    assert stats["bytes"] == sum(len(a[2]) for _, a in answers)
    for endpoint in ("quote", "profile", "dividends", "(unknown)"):
        mine = [a for ep, a in answers if ep == endpoint]
        assert stats["by_endpoint"][endpoint]["calls"] == len(mine)
        assert stats["by_endpoint"][endpoint]["bytes"] == sum(len(a[2]) for a in mine)
    assert stats["by_endpoint"]["quote"]["by_status"] == {"200": 3, "400": 1, "401": 1}
    for status in ("200", "400", "401", "404"):
        mine = [a for _, a in answers if str(a[0]) == status]
        assert stats["by_status"][status] == {"calls": len(mine), "bytes": sum(len(a[2]) for a in mine)}


def test_reset_zeroes_the_counters(fresh):
    call(fresh, "quote", symbol="AAPL")
    fresh.set_faults(latency_ms=1)
    status, _, body = fetch(f"{fresh.root_url}/_sandbox/reset", data=b"")
    after = json.loads(body)
    assert status == 200 and (after["calls"], after["bytes"], after["rate_limited"]) == (0, 0, 0)
    assert after["by_endpoint"] == {} and after["by_status"] == {} and after["window"]["calls"] == 0
    assert after["faults"]["latency_ms"] == 1  # the knobs stay
    assert fresh.stats()["calls"] == 0


def test_counters_are_thread_safe(fresh):
    body = call(fresh, "quote", symbol="NVDA")[2]
    fresh.reset()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", fresh.port, timeout=10)
        for _ in range(25):
            conn.request("GET", "/stable/quote?symbol=NVDA&apikey=k")
            assert conn.getresponse().read() == body
        conn.close()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = fresh.stats()
    assert stats["calls"] == 200 and stats["bytes"] == 200 * len(body)


# ------------------------------------------------------------------------------------------
# HTTP behaviour and lifecycle
# ------------------------------------------------------------------------------------------
def test_keep_alive_reuses_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/stable/quote?symbol=AAPL&apikey=k")
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    for path in ("/stable/profile?symbol=AAPL&apikey=k", "/stable/quote?symbol=x&apikey=k", "/_sandbox/health"):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert not response.will_close
    assert conn.sock is sock and first.version == 11
    conn.close()


def test_listens_on_loopback_only_and_stops_by_itself():
    s = SandboxServer().start()
    port = s.port
    assert s.url == f"http://127.0.0.1:{port}/stable"
    idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)  # an idle keep-alive client
    idle.request("GET", "/_sandbox/health")
    idle.getresponse().read()
    started = time.perf_counter()
    s.stop()
    assert time.perf_counter() - started < 3
    with pytest.raises(OSError):  # nobody listens any more
        socket.create_connection(("127.0.0.1", port), timeout=1)
    s.stop()  # a second stop is harmless


def test_context_manager_and_port_in_use():
    with SandboxServer() as s:
        with pytest.raises(OSError):
            SandboxServer(port=s.port).start()


# ------------------------------------------------------------------------------------------
# The CLI
# ------------------------------------------------------------------------------------------
def test_cli_serve_on_a_busy_port_exits_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["sandbox", "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.output


def test_cli_stats_prints_json(fresh):
    call(fresh, "quote", symbol="AAPL")
    call(fresh, "quote", symbol="AAPL", apikey=None)
    for args in (["sandbox", "stats", "--url", fresh.url, "--json"], ["--json", "sandbox", "stats", "--url", fresh.root_url]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        stats = json.loads(result.stdout)
        assert stats["calls"] == 2 and stats["by_endpoint"]["quote"]["by_status"] == {"200": 1, "401": 1}
    table = CliRunner().invoke(app, ["sandbox", "stats", "--url", fresh.root_url])
    assert table.exit_code == 0 and "quote" in table.stdout


def test_cli_stats_of_an_unreachable_sandbox_exits_2():
    result = CliRunner().invoke(app, ["sandbox", "stats", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 2 and "cannot reach the sandbox" in result.stderr


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float = 15) -> re.Match:
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        match = re.search(pattern, seen)
        if match:
            return match
    raise AssertionError(f"no {pattern!r} in the output of serve: {seen!r}")


def test_cli_serve_runs_until_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "sandbox", "serve", "--port", "0",
                             "--calls-per-minute", "2", "--summary-every", "0.2"],
                            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        url = _read_until(proc, r"listening on (http://127\.0\.0\.1:\d+/stable)").group(1)
        answers = [fetch(f"{url}/quote?symbol=AAPL&apikey=k") for _ in range(3)]
        assert [a[0] for a in answers] == [200, 200, 429]
        assert answers[0][2] == payload("quote", {"symbol": "AAPL"})  # the same bytes as in this process
        _read_until(proc, r"calls 3 \(\+\d+\), bytes [\d.]+ (B|kB), 429s 1")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_latency_beyond_a_client_timeout_and_a_prompt_stop():
    s = SandboxServer(latency_ms=15_000).start()  # longer than the processor's 10 s timeout
    started = time.perf_counter()
    with pytest.raises(OSError):  # socket.timeout: the client gives up first
        call_url = f"{s.url}/quote?symbol=AAPL&apikey=k"
        _OPENER.open(call_url, timeout=1).read()
    s.stop()  # wakes the delayed handler instead of waiting out its 15 s
    assert time.perf_counter() - started < 5
