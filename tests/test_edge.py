"""The Edge Functions for real: Deno serving templates/edge through toolkit.dev.gateway.serve, against a
real database with phases 0-3 applied and the market-data sandbox.

The Deno servers start once per module (a database clone of the phase 0-3 template for the
module, a server on it, one on a closed port, one on a database that never answers);
tests use fresh user ids and put back what settings they change.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import Cli, ROOT, _clone, free_port, requires_deno
from tests.queue_helpers import unlimited
from toolkit.dev.processes import alive
from toolkit.config import load_plan
from toolkit.dev import gateway
from toolkit.dev.jwt import local_jwt_secret, mint_jwt
from toolkit.dev.sandbox import SandboxServer

NAMES = load_plan(ROOT / "phases.yaml").plan.names
SECRET = "test-jwt-secret-for-the-edge-functions-0123456789"
API_KEY = "sandbox-key-0123456789"
SUBS = "SELECT count(*) FROM public.active_subscriptions_v2"
TYPES = ["quote", "profile", "financial-statements", "ratios-ttm", "dividend-history", "shares-float",
         "revenue-segmentation", "grades-historical", "exchange-variants", "available-exchanges",
         "exchange-market-status"]





pytestmark = requires_deno


# ---------------------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="module")
def edge_db(cluster, staleness_template):
    """One database with phases 0-3 for the module (the servers are bound to its URL)."""
    yield from _clone(cluster, staleness_template)


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(api_key=API_KEY) as s:
        yield s


@pytest.fixture(autouse=True)
def _calm_sandbox(request):
    if "sandbox" in request.fixturenames:
        s = request.getfixturevalue("sandbox")
        s.set_faults(error_rate=0, latency_ms=0, malformed_rate=0, force_status=None)
        s.reset()


@pytest.fixture(scope="module")
def server(edge_db, sandbox):
    with gateway.serve(edge_db.url, names=NAMES, port=None, jwt_secret=SECRET, market_data_url=sandbox.url, api_key=API_KEY,
                    timeout_ms=1000) as s:
        yield s


@pytest.fixture(scope="module")
def down_server(sandbox):
    """Functions whose database is a closed port: connection refused at once."""
    url = f"postgresql://postgres:nope@127.0.0.1:{free_port()}/postgres?sslmode=disable"
    with gateway.serve(url, names=NAMES, port=None, jwt_secret=SECRET, market_data_url=sandbox.url, api_key=API_KEY) as s:
        yield s


@pytest.fixture(scope="module")
def hung_server(sandbox):
    """Functions whose database accepts TCP connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # never accept(): the kernel completes handshakes, nobody speaks
    url = f"postgresql://postgres:nope@127.0.0.1:{listener.getsockname()[1]}/postgres?sslmode=disable"
    try:
        with gateway.serve(url, names=NAMES, port=None, jwt_secret=SECRET, market_data_url=sandbox.url, api_key=API_KEY) as s:
            yield s
    finally:
        listener.close()


# ---------------------------------------------------------------------------------------
# Helpers

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy

def call(server: gateway.EdgeServer, name: str, body=None, token: str | None = None, method: str = "POST",
         raw: bytes | None = None, timeout: float = 30):
    """(status, headers, JSON body) of one request to a function."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{server.functions_url}/{name}", data=data, method=method, headers=headers)
    try:
        with _DIRECT.open(req, timeout=timeout) as r:
            status, hdrs, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    return status, hdrs, (json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode())


def user_token(sub: str | None = None) -> tuple[str, str]:
    sub = sub or str(uuid.uuid4())
    return sub, mint_jwt(SECRET, sub=sub, role="authenticated")


def service_token() -> str:
    return mint_jwt(SECRET, sub="pytest", role="service_role")


def enable(db, *types: str) -> None:
    flags = ["use_queue_system"] + [f"use_queue_for_{t.replace('-', '_')}" for t in types]
    db.execute("UPDATE public.feature_flags SET enabled = true WHERE flag_name = ANY(%s)", [flags])


def enqueue(db, pairs: list[tuple[str, str]]) -> None:
    with db.connect(autocommit=True) as conn:
        for symbol, data_type in pairs:
            conn.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type) VALUES (%s, %s)", [symbol, data_type])


def jobs(db) -> dict[tuple[str, str], tuple]:
    rows = db.rows("SELECT symbol, data_type, status, actual_bytes, last_error, attempts FROM public.api_call_queue_v2")
    return {(r[0], r[1]): r[2:] for r in rows}


@pytest.fixture
def queue(edge_db):
    """An empty queue with budgets that cannot run out, a closed breaker."""
    edge_db.execute("DELETE FROM public.api_call_queue_v2")
    edge_db.execute("UPDATE public.processor_state_v2 SET breaker_state = 'closed', consecutive_failures = 0, "
                    "opened_at = NULL, last_error = NULL")
    unlimited(edge_db)
    yield edge_db
    edge_db.execute("DELETE FROM public.api_call_queue_v2")


# ---------------------------------------------------------------------------------------
# The CLI: check and test

def test_edge_check_and_test_pass():
    cli = Cli(None, ROOT / "phases.yaml")
    checked = cli("edge", "check")
    assert checked.exit_code == 0, checked.output
    assert "deno lint" in checked.output
    tested = cli("edge", "test")
    assert tested.exit_code == 0, tested.output
    assert " passed" in tested.output and "0 failed" in tested.output


def test_edge_commands_exit_2_without_deno(monkeypatch):
    monkeypatch.setenv("DENO_BIN", "/nonexistent/deno")
    result = Cli(None, ROOT / "phases.yaml")("edge", "check")
    assert result.exit_code == 2


# ---------------------------------------------------------------------------------------
# track-subscription-v2

def test_track_needs_a_token_and_a_signed_in_user(server, edge_db):
    before = edge_db.scalar(SUBS)
    assert call(server, "track-subscription-v2", {"symbol": "AAPL", "dataTypes": ["quote"]})[0] == 401
    anon = mint_jwt(SECRET, role="anon")
    assert call(server, "track-subscription-v2", {"symbol": "AAPL", "dataTypes": ["quote"]}, anon)[0] == 401
    forged = mint_jwt("another-secret", sub=str(uuid.uuid4()))
    assert call(server, "track-subscription-v2", {"symbol": "AAPL", "dataTypes": ["quote"]}, forged)[0] == 401
    expired = mint_jwt(SECRET, sub=str(uuid.uuid4()), ttl=-60)
    assert call(server, "track-subscription-v2", {"symbol": "AAPL", "dataTypes": ["quote"]}, expired)[0] == 401
    assert edge_db.scalar(SUBS) == before


BAD_REQUESTS = [
    pytest.param({"symbol": "AAPL'; DROP TABLE x;--", "dataTypes": ["quote"]}, id="injection-symbol"),
    pytest.param({"symbol": "AAPL", "dataTypes": ["quote'); DELETE FROM public.stock_quotes;--"]}, id="injection-type"),
    pytest.param({"symbol": "' OR '1'='1", "dataTypes": ["quote"]}, id="injection-or"),
    pytest.param({"symbol": "NOT A SYMBOL", "dataTypes": ["quote"]}, id="bad-symbol"),
    pytest.param({"symbol": "TOOLONGSYMBOL1", "dataTypes": ["quote"]}, id="long-symbol"),
    pytest.param({"symbol": 123, "dataTypes": ["quote"]}, id="number-symbol"),
    pytest.param({"symbol": "AAPL", "dataTypes": "quote"}, id="string-types"),
    pytest.param({"symbol": "AAPL", "dataTypes": []}, id="no-types"),
    pytest.param({"symbol": "AAPL", "dataTypes": [f"t{i}" for i in range(12)]}, id="too-many-types"),
    pytest.param({"symbol": "AAPL", "dataTypes": ["no-such-type"]}, id="unknown-type"),
    pytest.param(["AAPL", ["quote"]], id="array-body"),
]


@pytest.mark.parametrize("body", BAD_REQUESTS)
def test_track_refuses_bad_input_and_writes_nothing(server, edge_db, body):
    _, token = user_token()
    before = edge_db.rows("SELECT user_id, symbol, data_types FROM public.active_subscriptions_v2 ORDER BY id")
    status, _, answer = call(server, "track-subscription-v2", body, token)
    assert status == 400, answer
    assert answer["error"]
    assert edge_db.rows("SELECT user_id, symbol, data_types FROM public.active_subscriptions_v2 ORDER BY id") == before
    assert edge_db.scalar("SELECT count(*) FROM public.stock_quotes") == 20


def test_track_refuses_oversized_and_non_json_bodies(server, edge_db):
    _, token = user_token()
    before = edge_db.scalar(SUBS)
    big = json.dumps({"symbol": "AAPL", "dataTypes": ["quote"], "pad": "x" * 5000}).encode()
    status, _, answer = call(server, "track-subscription-v2", token=token, raw=big)
    assert status == 400 and "4096" in answer["error"]
    assert call(server, "track-subscription-v2", token=token, raw=b"{not json")[0] == 400
    assert edge_db.scalar(SUBS) == before


def test_track_records_the_subscription_and_queues_stale_data(server, edge_db):
    enable(edge_db, "quote")
    edge_db.execute("DELETE FROM public.api_call_queue_v2 WHERE symbol = 'MSFT'")
    edge_db.execute("UPDATE public.stock_quotes SET updated_at = now() - interval '1 hour' WHERE symbol = 'MSFT'")
    user, token = user_token()
    status, headers, answer = call(server, "track-subscription-v2", {"symbol": "msft", "dataTypes": ["quote"]}, token)
    assert status == 200, answer
    assert answer["tracked"] is True and answer["symbol"] == "MSFT"
    assert [q["data_type"] for q in answer["queued"]] == ["quote"]
    assert headers["access-control-allow-origin"] == "*"
    assert edge_db.rows("SELECT symbol, data_types FROM public.active_subscriptions_v2 WHERE user_id = %s",
                        [user]) == [("MSFT", ["quote"])]
    assert edge_db.scalar("SELECT count(*) FROM public.api_call_queue_v2 WHERE symbol = 'MSFT' AND data_type = 'quote' "
                          "AND status = 'pending'") == 1

    status, _, answer = call(server, "untrack-subscription-v2", {"symbol": "MSFT"}, token)
    assert (status, answer["untracked"], answer["removed"]) == (200, True, 1)
    assert edge_db.scalar(f"{SUBS} WHERE user_id = %s", [user]) == 0
    edge_db.execute("DELETE FROM public.api_call_queue_v2 WHERE symbol = 'MSFT'")


def test_track_over_the_rate_limit_is_429_with_retry_after(server, edge_db):
    edge_db.execute("UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 3")
    try:
        # The window is the calendar minute: do not start right before it turns.
        if time.time() % 60 > 55:
            time.sleep(61 - time.time() % 60)
        _, token = user_token()
        body = {"symbol": "AAPL", "dataTypes": ["quote"]}
        assert [call(server, "track-subscription-v2", body, token)[0] for _ in range(3)] == [200, 200, 200]
        status, headers, answer = call(server, "track-subscription-v2", body, token)
        assert status == 429, answer
        assert 1 <= int(headers["retry-after"]) <= 60
        assert answer["tracked"] is False
        # Another user has a budget of their own.
        assert call(server, "track-subscription-v2", body, user_token()[1])[0] == 200
    finally:
        edge_db.execute("UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 30")


def test_invalid_track_requests_do_not_count_against_the_rate_limit(server, edge_db):
    edge_db.execute("UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 2")
    try:
        if time.time() % 60 > 55:
            time.sleep(61 - time.time() % 60)
        _, token = user_token()
        unknown = {"symbol": "AAPL", "dataTypes": ["not-a-type"]}  # well-formed, but no such data type
        for _ in range(5):
            status, _, answer = call(server, "track-subscription-v2", unknown, token)
            assert status == 400 and answer["dataType"] == "not-a-type", answer
        body = {"symbol": "AAPL", "dataTypes": ["quote"]}
        assert [call(server, "track-subscription-v2", body, token)[0] for _ in range(3)] == [200, 200, 429]
    finally:
        edge_db.execute("UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 30")


def test_a_request_head_too_large_gets_the_json_error_shape(server):
    # The gateway's own limit comes before Deno's (which answers an empty 400 or resets).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"POST /functions/v1/track-subscription-v2 HTTP/1.1\r\nhost: x\r\n"
                  f"authorization: Bearer {'a' * 100_000}\r\ncontent-length: 2\r\n\r\n{{}}".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head[:80]
    assert b"content-type: application/json" in head.lower()
    answer = json.loads(body)
    assert answer["code"] == 431 and "too large" in answer["message"]


def test_track_and_untrack_fail_silently_when_the_database_is_down(down_server, hung_server):
    _, token = user_token()
    body = {"symbol": "AAPL", "dataTypes": ["quote"]}
    status, _, answer = call(down_server, "track-subscription-v2", body, token)
    assert status == 200 and answer["tracked"] is False and "ECONNREFUSED" in answer["reason"]
    assert "127.0.0.1" not in answer["reason"]  # no connection details for the page
    status, _, answer = call(down_server, "untrack-subscription-v2", {"symbol": "AAPL"}, token)
    assert status == 200 and answer["untracked"] is False

    t = time.monotonic()
    status, _, answer = call(hung_server, "track-subscription-v2", body, token)
    assert status == 200 and answer["tracked"] is False
    assert time.monotonic() - t < 6
    # Input is still checked first: a bad request is 400 whether or not the database is up.
    assert call(down_server, "track-subscription-v2", {"symbol": "A'--", "dataTypes": ["quote"]}, token)[0] == 400


def test_preflight_and_unknown_functions(server):
    status, headers, _ = call(server, "track-subscription-v2", method="OPTIONS")
    assert status == 200
    assert "authorization" in headers["access-control-allow-headers"]
    assert call(server, "no-such-function", method="GET")[0] == 404


# ---------------------------------------------------------------------------------------
# health-check

def test_health_check_ok_on_a_healthy_database(server, queue):
    status, _, answer = call(server, "health-check", method="GET")
    assert status == 200, answer
    assert answer["status"] == "ok" and answer["problems"] == []
    checks = answer["checks"]
    assert checks["database"]["ok"] is True
    assert checks["queue"]["stuck"] == 0 and checks["queue"]["breaker_state"] == "closed"
    assert checks["quota"]["calls_limit"] > 0


def test_health_check_503_when_the_database_is_unreachable_or_hangs(down_server, hung_server):
    status, _, answer = call(down_server, "health-check", method="GET")
    assert status == 503 and answer["status"] == "unhealthy"
    assert answer["problems"] == ["database unreachable"]
    # The health check answers anyone: the error's kind, never where the database is.
    assert answer["checks"]["database"]["error"] == "ECONNREFUSED", answer
    assert not re.search(r"127\.0\.0\.1|:\d{2,5}\b", json.dumps(answer)), answer
    t = time.monotonic()
    status, _, answer = call(hung_server, "health-check", method="GET")
    assert status == 503 and time.monotonic() - t < 5


def test_health_check_503_when_a_job_is_stuck(server, queue):
    queue.execute("UPDATE public.queue_config_v2 SET stuck_timeout_seconds = 1")
    try:
        queue.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, started_at, worker_id, attempts) "
                      "VALUES ('AAPL', 'quote', 'processing', now() - interval '10 seconds', 'gone', 1)")
        status, _, answer = call(server, "health-check", method="GET")
        assert status == 503, answer
        assert answer["checks"]["queue"]["stuck"] == 1
        assert any(p.startswith("queue stuck") for p in answer["problems"])
    finally:
        queue.execute("UPDATE public.queue_config_v2 SET stuck_timeout_seconds = 300")


def test_health_check_503_when_the_breaker_is_open(server, queue):
    queue.execute("UPDATE public.processor_state_v2 SET breaker_state = 'open', opened_at = now()")
    status, _, answer = call(server, "health-check", method="GET")
    assert status == 503 and "circuit breaker open" in answer["problems"]


# ---------------------------------------------------------------------------------------
# queue-processor-v2 against the sandbox

def test_processor_refuses_callers_without_the_service_role(server, queue):
    assert call(server, "queue-processor-v2", {})[0] == 401
    assert call(server, "queue-processor-v2", {}, user_token()[1])[0] == 403
    assert call(server, "queue-processor-v2", {"batchSize": "ten"}, service_token())[0] == 400


def test_processor_refreshes_every_data_type_with_honest_bytes(server, queue, sandbox):
    symbol_for = {"available-exchanges": "*", "exchange-market-status": "NASDAQ"}
    enqueue(queue, [(symbol_for.get(t, "AAPL"), t) for t in TYPES] + [("ZZZZ", "quote"), ("AAPL", "bogus")])
    queue.execute("UPDATE public.stock_quotes SET updated_at = now() - interval '1 day', price = 1 WHERE symbol = 'AAPL'")
    status, _, s = call(server, "queue-processor-v2", {"batchSize": 5}, service_token())
    assert status == 200, s
    assert (s["claimed"], s["completed"], s["failed"], s["provider_failures"]) == (13, 11, 2, 0)
    assert s["stopped_by"] == "empty"

    state = jobs(queue)
    for t in TYPES:
        assert state[(symbol_for.get(t, "AAPL"), t)][0] == "completed", (t, state[(symbol_for.get(t, "AAPL"), t)])
    assert state[("ZZZZ", "quote")][0] == "failed" and "unknown symbol ZZZZ" in state[("ZZZZ", "quote")][2]
    assert state[("AAPL", "bogus")][0] == "failed" and "unknown data type" in state[("AAPL", "bogus")][2]
    # Honest accounting: what the provider sent, to the byte, statements' three calls included.
    stats = sandbox.stats()
    assert s["bytes"] == stats["bytes"] == sum(v[1] or 0 for v in state.values())
    statements = sum(stats["by_endpoint"][e]["bytes"]
                     for e in ("income-statement", "balance-sheet-statement", "cash-flow-statement"))
    assert state[("AAPL", "financial-statements")][1] == statements
    assert queue.scalar("SELECT sum(bytes) FROM public.api_data_usage_v2") >= s["bytes"]
    # The data arrived.
    assert queue.scalar("SELECT price FROM public.stock_quotes WHERE symbol = 'AAPL'") > 1
    assert queue.scalar("SELECT updated_at > now() - interval '1 minute' FROM public.stock_quotes "
                        "WHERE symbol = 'AAPL'") is True
    assert queue.scalar("SELECT count(*) FROM public.financial_statements WHERE symbol = 'AAPL' "
                        "AND updated_at > now() - interval '1 minute'") > 0
    assert queue.scalar("SELECT breaker_state FROM public.processor_state_v2") == "closed"


@pytest.mark.parametrize("fault, retryable, stopped_by", [
    ({"force_status": 429}, True, "rate_limited"),
    ({"force_status": 503}, True, "empty"),
    ({"latency_ms": 2500}, True, "empty"),         # the processor's calls time out after 1 s
    ({"force_status": 404}, False, "empty"),
    ({"malformed_rate": 1.0}, True, "empty"),       # a truncated body: retried like a 5xx
])
def test_processor_failures_reach_the_queue_and_the_breaker(server, queue, sandbox, fault, retryable, stopped_by):
    sandbox.set_faults(**fault)
    enqueue(queue, [("AAPL", "quote"), ("MSFT", "quote")])
    t = time.monotonic()
    status, _, s = call(server, "queue-processor-v2", {"batchSize": 1}, service_token())
    assert status == 200, s
    assert time.monotonic() - t < 10
    assert s["stopped_by"] == stopped_by
    state = jobs(queue)
    done = [v for v in state.values() if v[0] != "pending" or v[2]]
    if stopped_by == "rate_limited":
        assert s["claimed"] == 1 and s["retried"] == 1    # the second job was never claimed
    else:
        assert s["claimed"] == 2
    for status_, _bytes, error, _attempts in done:
        assert status_ == ("pending" if retryable else "failed")
        assert error
    if fault.get("malformed_rate"):
        assert all(v[2].startswith("malformed JSON from quote: ") for v in done)
    provider_failure = retryable
    assert (s["provider_failures"] > 0) == provider_failure
    failures = queue.scalar("SELECT consecutive_failures FROM public.processor_state_v2")
    assert (failures == 1) == provider_failure


def test_processor_returns_within_its_budget_when_the_provider_hangs(server, queue, sandbox):
    sandbox.set_faults(latency_ms=4000)
    enqueue(queue, [("AAPL", "quote")])
    t = time.monotonic()
    status, _, s = call(server, "queue-processor-v2", {"timeBudgetMs": 1500}, service_token())
    assert status == 200 and time.monotonic() - t < 4
    assert s["claimed"] == 1 and s["provider_failures"] == 1  # the 1 s call timeout fired first


def test_processor_database_error_is_500_without_where_the_database_is(down_server):
    status, _, answer = call(down_server, "queue-processor-v2", {}, service_token())
    assert status == 500 and answer["error"]
    # The kind of error only: no host, no port, no connection string.
    assert not re.search(r"127\.0\.0\.1|localhost|:\d{2,5}\b|postgres(ql)?://", json.dumps(answer)), answer


# ---------------------------------------------------------------------------------------
# The Python side: tokens, the secret, the server's lifecycle

def test_mint_jwt_is_hs256_that_the_functions_accept():
    import base64
    import hashlib
    import hmac

    token = mint_jwt("s", sub="u", role="service_role", ttl=60)
    head, body, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(head))) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(body)))
    assert claims["sub"] == "u" and claims["role"] == "service_role" and claims["exp"] - claims["iat"] == 60
    expected = hmac.new(b"s", f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(pad(sig)) == expected


def test_local_jwt_secret_is_private_and_stable(tmp_path):
    first = local_jwt_secret(tmp_path)
    path = tmp_path / ".toolkit" / "local" / "jwt_secret"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(first) >= 32 and local_jwt_secret(tmp_path) == first


def test_server_listens_on_loopback_only_and_stops(edge_db):
    with gateway.serve(edge_db.url, names=NAMES, port=None, jwt_secret=SECRET, market_data_url="http://127.0.0.1:9/stable",
                    api_key="k") as s:
        assert s.url.startswith("http://127.0.0.1:")
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout if _has("ss") else ""
        listening = [line for line in out.splitlines() if f":{s.port} " in line]
        assert all("127.0.0.1:" in line for line in listening)
        pid = s.process.pid
    assert s.process.poll() is not None
    assert not alive(pid)


def test_server_dies_with_a_process_that_dies_without_cleanup(edge_db):
    """The watchdog: a parent killed without running atexit still takes its server down."""
    script = (
        "import os, sys\n"
        "from toolkit.dev import gateway\nfrom toolkit.names import Names\n"
        f"s = gateway.serve({edge_db.url!r}, names=Names('_v2'), port=None, jwt_secret='x', market_data_url='http://127.0.0.1:9/s', api_key='k')\n"
        "print(s.process.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid)


def _has(tool: str) -> bool:
    return any((Path(p) / tool).exists() for p in os.environ.get("PATH", "").split(os.pathsep))

