"""The pg_net 0.20 stand-in (toolkit.dev.pg_net) against pg_net's contract.

Its SQL: the request functions' signatures and defaults, the Content-Type rule, params in
the URL, pg_net's errors and privileges, an idempotent install that refuses a real pg_net.
Its worker, with a small HTTP server on 127.0.0.1 as the target: requests go out only after
their transaction commits, concurrently up to the batch size, once each, within their
timeout; every outcome (answer, timeout, refused connection) is one response row; old
responses expire; a lost database connection is survived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from psycopg import sql

from toolkit.dev.pg_net import APPLICATION_NAME, install, start_worker
from toolkit.dev.processes import alive, free_port
from toolkit.errors import ToolkitError

POLL = 0.2  # the workers' idle poll interval here


# -- the target ---------------------------------------------------------------------------------

@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Target:
    """An HTTP server on 127.0.0.1 that records what reaches it.

    /slow/<ms> answers after <ms> milliseconds, /status/<code> with that status, anything
    else 200 with a JSON echo. `peak` is the most requests it had in hand at once."""

    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for h in self.hits if h.path.split("?")[0] == path)

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _handler(target_box: list):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

        def _answer(self):
            target: Target = target_box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with target.lock:
                target.hits.append(Hit(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                target.in_flight += 1
                target.peak = max(target.peak, target.in_flight)
            try:
                path = self.path.split("?")[0]
                status = 200
                if path.startswith("/slow/"):
                    # Sleep in steps so that stopping the server never waits on a slow answer.
                    end = time.monotonic() + int(path.rsplit("/", 1)[1]) / 1000
                    while time.monotonic() < end and not target.stopping.wait(0.02):
                        pass
                elif path.startswith("/status/"):
                    status = int(path.rsplit("/", 1)[1])
                payload = json.dumps({"method": self.command, "path": self.path,
                                      "body": body.decode(errors="replace")}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("X-Target", "yes")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)
            finally:
                with target.lock:
                    target.in_flight -= 1

        do_GET = do_POST = do_DELETE = _answer

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # a batch connects all at once; the default backlog of 5 would delay some


@pytest.fixture
def target():
    box: list = []
    server = _Server(("127.0.0.1", 0), _handler(box))
    t = Target(server)
    box.append(t)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield t
    t.stop()
    thread.join(5)


# -- databases and workers ----------------------------------------------------------------------

@pytest.fixture
def net_db(db):
    """A fresh database with the stand-in installed (the local cluster's build puts it there)."""
    assert db.scalar("SELECT to_regprocedure('net.http_get(text, jsonb, jsonb, integer)') IS NOT NULL")
    return db


@pytest.fixture
def worker(net_db):
    with start_worker(net_db.url, poll_interval=POLL) as handle:
        yield handle


def response(db, request_id: int, timeout: float = 15.0) -> dict:
    """The response row of `request_id`, once the worker wrote it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = db.rows("SELECT id, status_code, content_type, headers, content, timed_out, error_msg, created"
                       " FROM net._http_response WHERE id = %s", (request_id,))
        if rows:
            assert len(rows) == 1, rows
            keys = ("id", "status_code", "content_type", "headers", "content", "timed_out", "error_msg", "created")
            return dict(zip(keys, rows[0]))
        time.sleep(0.05)
    raise AssertionError(f"no response for request {request_id} within {timeout} s")


def queued(db) -> list[tuple]:
    return db.rows("SELECT id, method, url, headers, body, timeout_milliseconds FROM net.http_request_queue ORDER BY id")


# -- the SQL interface --------------------------------------------------------------------------

def test_the_request_functions_have_pg_net_signatures(net_db):
    rows = dict(net_db.rows(
        "SELECT p.proname, pg_get_function_arguments(p.oid) || ' -> ' || pg_get_function_result(p.oid)"
        "       || CASE WHEN p.prosecdef THEN ' definer' ELSE ' invoker' END"
        " FROM pg_proc p WHERE p.pronamespace = 'net'::regnamespace AND p.proname LIKE 'http\\_%'"))
    assert rows == {
        "http_get": "url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb, "
                    "timeout_milliseconds integer DEFAULT 5000 -> bigint invoker",
        "http_post": "url text, body jsonb DEFAULT '{}'::jsonb, params jsonb DEFAULT '{}'::jsonb, "
                     "headers jsonb DEFAULT '{\"Content-Type\": \"application/json\"}'::jsonb, "
                     "timeout_milliseconds integer DEFAULT 5000 -> bigint invoker",
        "http_delete": "url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb, "
                       "timeout_milliseconds integer DEFAULT 5000, body jsonb DEFAULT NULL::jsonb -> bigint invoker",
    }


def test_the_tables_are_unlogged_and_shaped_like_pg_nets(net_db):
    columns = net_db.rows(
        "SELECT c.relname, c.relpersistence, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        "       pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
        " WHERE c.relnamespace = 'net'::regnamespace AND c.relkind = 'r' ORDER BY c.relname, a.attnum")
    assert columns == [
        ("_http_response", "u", "id", "bigint", False, None),
        ("_http_response", "u", "status_code", "integer", False, None),
        ("_http_response", "u", "content_type", "text", False, None),
        ("_http_response", "u", "headers", "jsonb", False, None),
        ("_http_response", "u", "content", "text", False, None),
        ("_http_response", "u", "timed_out", "boolean", False, None),
        ("_http_response", "u", "error_msg", "text", False, None),
        ("_http_response", "u", "created", "timestamp with time zone", True, "now()"),
        ("http_request_queue", "u", "id", "bigint", True, "nextval('net.http_request_queue_id_seq'::regclass)"),
        ("http_request_queue", "u", "method", "net.http_method", True, None),
        ("http_request_queue", "u", "url", "text", True, None),
        ("http_request_queue", "u", "headers", "jsonb", False, None),
        ("http_request_queue", "u", "body", "bytea", False, None),
        ("http_request_queue", "u", "timeout_milliseconds", "integer", True, None),
    ]


def test_defaults_of_each_request_function(net_db):
    url = "http://127.0.0.1:9/x"
    ids = [net_db.scalar("SELECT net.http_get(%s)", (url,)),
           net_db.scalar("SELECT net.http_post(%s)", (url,)),
           net_db.scalar("SELECT net.http_delete(%s)", (url,))]
    assert queued(net_db) == [
        (ids[0], "GET", url, {}, None, 5000),
        (ids[1], "POST", url, {"Content-Type": "application/json"}, b"{}", 5000),
        (ids[2], "DELETE", url, {}, None, 5000),
    ]
    net_db.execute("SELECT net.http_delete(%s, body => '{\"a\": 1}')", (url,))
    assert queued(net_db)[-1][4] == b'{"a": 1}'


def test_http_post_adds_content_type_and_refuses_any_but_json(net_db):
    url = "http://127.0.0.1:9/"
    net_db.execute("SELECT net.http_post(%s, headers => '{\"X-A\": \"1\"}')", (url,))
    net_db.execute("SELECT net.http_post(%s, headers => '{\"content-type\": \"application/json\"}')", (url,))
    net_db.execute("SELECT net.http_post(%s, headers => NULL)", (url,))  # pg_net: NULL stays NULL
    assert [r[3] for r in queued(net_db)] == [
        {"X-A": "1", "Content-Type": "application/json"}, {"content-type": "application/json"}, None]

    for content_type in ("text/plain", "application/json; charset=utf-8", "Application/JSON"):
        with pytest.raises(psycopg.errors.RaiseException) as caught:
            net_db.execute("SELECT net.http_post(%s, headers => jsonb_build_object('Content-Type', %s::text))",
                           (url, content_type))
        assert caught.value.diag.message_primary == 'Content-Type header must be "application/json"'
    assert len(queued(net_db)) == 3


def test_params_are_encoded_into_the_query_string(net_db):
    def url_of(base: str, params: dict) -> str:
        request_id = net_db.scalar("SELECT net.http_get(%s, params => %s::jsonb)", (base, json.dumps(params)))
        return net_db.scalar("SELECT url FROM net.http_request_queue WHERE id = %s", (request_id,))

    # jsonb's key order (shorter keys first), curl_easy_escape's encoding, JSON nulls left out.
    assert url_of("http://h:1/p", {"a b": "x&y=z", "n": 1, "emoji": "é~-._!", "gone": None}) \
        == "http://h:1/p?n=1&a%20b=x%26y%3Dz&emoji=%C3%A9~-._%21"
    assert url_of("http://h:1/p?z=1", {"a": "2"}) == "http://h:1/p?z=1&a=2"
    assert url_of("http://h:1/p?z=1&", {"a": "2"}) == "http://h:1/p?z=1&a=2"
    assert url_of("http://h:1/p#frag", {"a": "2"}) == "http://h:1/p?a=2#frag"
    assert url_of("HTTP://h:1", {}) == "http://h:1/"
    assert net_db.scalar("SELECT net._urlencode_string('')") == ""
    assert net_db.scalar("SELECT net._urlencode_string(NULL)") is None


def test_malformed_urls_fail_the_caller_with_pg_nets_errors(net_db):
    cases = {
        "localhost:6666": "Unsupported URL scheme",
        "/malformed_url": "Bad scheme",
        "http://exa mple.com/": "Malformed input to a URL function",
        "http:/h/": None,  # one slash is fine for curl
        "http://": "No host part in the URL",
        "http://user@:80/": "No host part in the URL",
        "http://h:99999/": "Port number was not a decimal number between 0 and 65535",
    }
    for url, reason in cases.items():
        if reason is None:
            net_db.execute("SELECT net.http_get(%s)", (url,))
            continue
        with pytest.raises(psycopg.errors.InternalError_) as caught:
            net_db.execute("SELECT net.http_get(%s)", (url,))
        assert caught.value.diag.message_primary == f'invalid URL "{url}": {reason}'
    with pytest.raises(psycopg.errors.NotNullViolation, match='null value in column "url"'):
        net_db.execute("SELECT net.http_get(NULL)")


def test_privileges_are_pg_nets_on_supabase(net_db):
    roles = ("postgres", "anon", "authenticated", "service_role")
    assert net_db.rows(
        "SELECT r, has_schema_privilege(r, 'net', 'USAGE'),"
        "       has_function_privilege(r, 'net.http_get(text, jsonb, jsonb, integer)', 'EXECUTE'),"
        "       has_function_privilege(r, 'net.http_post(text, jsonb, jsonb, jsonb, integer)', 'EXECUTE'),"
        "       has_function_privilege(r, 'net.http_delete(text, jsonb, jsonb, integer, jsonb)', 'EXECUTE'),"
        "       has_table_privilege(r, 'net.http_request_queue', 'INSERT'),"
        "       has_sequence_privilege(r, 'net.http_request_queue_id_seq', 'USAGE'),"
        "       has_table_privilege(r, 'net._http_response', 'SELECT')"
        " FROM unnest(%s::text[]) AS r", (list(roles),)) == [(r, *[True] * 7) for r in roles]
    # pg_net grants ALL on its tables and sequence to PUBLIC (the ACL entry without a grantee
    # name); the functions keep PostgreSQL's default, EXECUTE for PUBLIC.
    acls = dict(net_db.rows("SELECT c.relname, c.relacl::text[] FROM pg_class c"
                            " WHERE c.relnamespace = 'net'::regnamespace AND c.relkind IN ('r', 'S')"))
    assert {name: [e.split("/")[0] for e in acl if e.startswith("=")] for name, acl in acls.items()} == {
        "_http_response": ["=arwdDxt"], "http_request_queue": ["=arwdDxt"], "http_request_queue_id_seq": ["=rwU"]}
    assert net_db.scalar("SELECT bool_and(proacl IS NULL) FROM pg_proc WHERE pronamespace = 'net'::regnamespace")

    # A role made after the install, with no grant of its own, enqueues like the API roles.
    role = f"pgnet_caller_{os.getpid()}"
    net_db.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    try:
        with net_db.admin_connect() as conn:  # SET ROLE to a role postgres made needs membership (PG 15)
            for r in ("anon", "authenticated", "service_role", role):
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(r)))
                conn.execute("SELECT net.http_post('http://127.0.0.1:9/', '{}'::jsonb)")
                conn.execute("RESET ROLE")
            conn.commit()
    finally:
        net_db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert len(queued(net_db)) == 4


def test_install_is_idempotent_and_keeps_the_queue(net_db):
    request_id = net_db.scalar("SELECT net.http_get('http://127.0.0.1:9/')")
    before = net_db.schema_dump("net")
    with net_db.admin_connect() as conn:
        install(conn)
        install(conn)
        conn.commit()
    assert net_db.schema_dump("net") == before
    assert [r[0] for r in queued(net_db)] == [request_id]


def test_install_refuses_next_to_a_real_pg_net(net_db):
    with net_db.admin_connect() as conn:
        # Stands for CREATE EXTENSION pg_net, which this machine cannot do: the catalog row
        # is all the guard reads. Rolled back below.
        conn.execute("INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)"
                     " SELECT pg_nextoid('pg_extension', 'oid', 'pg_extension_oid_index'), 'pg_net', 10,"
                     "        'public'::regnamespace, false, '0.20.0'")
        with pytest.raises(ToolkitError, match="the real pg_net 0.20.0 is installed") as caught:
            install(conn)
        assert "DROP EXTENSION pg_net" in caught.value.hint
        conn.rollback()


def test_install_refuses_a_foreign_net_schema_and_a_non_superuser(db):
    before = db.schema_dump("net")
    with db.admin_connect() as conn:
        conn.execute("DROP SCHEMA net CASCADE")  # rolled back below
        conn.execute("CREATE SCHEMA net")
        with pytest.raises(ToolkitError, match="schema net exists .* is not the pg_net stand-in's"):
            install(conn)
        conn.rollback()
        role = f"pgnet_not_super_{os.getpid()}"  # created and dropped with the rolled-back transaction
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        with pytest.raises(ToolkitError, match="installs only as the local cluster's superuser"):
            install(conn)
        conn.rollback()
    with db.connect() as conn:  # the project's own login, postgres, is no superuser either
        with pytest.raises(ToolkitError, match="installs only as the local cluster's superuser"):
            install(conn)
    assert db.schema_dump("net") == before


# -- the worker ---------------------------------------------------------------------------------

def test_requests_go_out_as_pg_net_sends_them_and_their_responses_come_back(net_db, target, worker):
    get_id = net_db.scalar("SELECT net.http_get(%s, params => '{\"q\": \"a b\"}', headers => '{\"X-Key\": \"k\"}')",
                           (target.url("/get"),))
    post_id = net_db.scalar("SELECT net.http_post(%s, body => '{\"n\": 1}')", (target.url("/post"),))
    delete_id = net_db.scalar("SELECT net.http_delete(%s, body => '{\"d\": true}')", (target.url("/status/404"),))

    got = response(net_db, get_id)
    assert got["status_code"] == 200 and got["timed_out"] is False and got["error_msg"] is None
    assert got["content_type"] == "application/json"
    assert got["headers"]["Content-Type"] == "application/json" and got["headers"]["X-Target"] == "yes"
    assert json.loads(got["content"]) == {"method": "GET", "path": "/get?q=a%20b", "body": ""}
    assert response(net_db, post_id)["status_code"] == 200
    assert response(net_db, delete_id)["status_code"] == 404
    assert queued(net_db) == []  # the worker deletes what it takes

    hits = {h.path.split("?")[0]: h for h in target.hits}
    assert hits["/get"].method == "GET" and hits["/get"].headers["x-key"] == "k"
    assert hits["/get"].headers["user-agent"] == "pg_net/0.20.0" and hits["/get"].headers["accept"] == "*/*"
    assert hits["/post"].method == "POST" and hits["/post"].body == b'{"n": 1}'
    assert hits["/post"].headers["content-type"] == "application/json"
    assert hits["/status/404"].method == "DELETE" and hits["/status/404"].body == b'{"d": true}'

    status, message, code = net_db.rows(
        "SELECT r.status, r.message, (r.response).status_code"
        " FROM net._http_collect_response(%s, async => false) AS r", (get_id,))[0]
    assert (status, message, code) == ("SUCCESS", "ok", 200)


def test_a_rolled_back_request_is_never_sent(net_db, target, worker):
    with net_db.connect() as conn:
        rolled_back = conn.execute("SELECT net.http_get(%s)", (target.url("/rolled-back"),)).fetchone()[0]
        conn.rollback()
    committed = net_db.scalar("SELECT net.http_get(%s)", (target.url("/committed"),))
    response(net_db, committed)
    time.sleep(3 * POLL)
    assert target.count("/rolled-back") == 0 and target.count("/committed") == 1
    assert net_db.scalar("SELECT count(*) FROM net._http_response WHERE id = %s", (rolled_back,)) == 0


def test_a_request_is_sent_only_after_its_transaction_commits(net_db, target, worker):
    with net_db.connect() as conn:
        request_id = conn.execute("SELECT net.http_get(%s)", (target.url("/after-commit"),)).fetchone()[0]
        time.sleep(5 * POLL)  # several of the worker's rounds
        assert target.count("/after-commit") == 0
        assert queued(net_db) == []  # another session sees nothing yet
        conn.commit()
        committed_at = time.monotonic()
    response(net_db, request_id)
    assert target.count("/after-commit") == 1
    # Woken at commit, not at its next poll.
    assert time.monotonic() - committed_at < 3


def test_a_row_put_into_the_queue_by_hand_waits_for_the_next_wake(net_db, target, worker):
    net_db.execute("INSERT INTO net.http_request_queue (method, url, timeout_milliseconds)"
                   " VALUES ('GET', %s, 1000)", (target.url("/by-hand"),))
    time.sleep(5 * POLL)
    assert target.count("/by-hand") == 0  # pg_net: "won't cause the worker to process requests"
    request_id = net_db.scalar("SELECT net.http_get(%s)", (target.url("/woken"),))
    response(net_db, request_id)
    assert target.count("/by-hand") == 1


def test_requests_run_concurrently(net_db, target, worker):
    with net_db.connect() as conn:
        ids = [conn.execute("SELECT net.http_get(%s)", (target.url("/slow/1000"),)).fetchone()[0] for _ in range(8)]
        conn.commit()
    started = time.monotonic()
    for request_id in ids:
        assert response(net_db, request_id)["status_code"] == 200
    assert time.monotonic() - started < 2.8  # one after another would take 8 s
    assert target.peak == 8


def test_the_batch_size_bounds_how_many_run_at_once(net_db, target):
    with start_worker(net_db.url, batch_size=2, poll_interval=POLL):
        with net_db.connect() as conn:
            ids = [conn.execute("SELECT net.http_get(%s)", (target.url("/slow/400"),)).fetchone()[0] for _ in range(4)]
            conn.commit()
        started = time.monotonic()
        for request_id in ids:
            response(net_db, request_id)
        assert time.monotonic() - started >= 0.8
    assert target.peak == 2


def test_a_timeout_writes_timed_out_and_pg_nets_message(net_db, target, worker):
    request_id = net_db.scalar("SELECT net.http_get(%s, timeout_milliseconds => 300)", (target.url("/slow/5000"),))
    started = time.monotonic()
    got = response(net_db, request_id)
    assert time.monotonic() - started < 3
    assert got["timed_out"] is True and got["status_code"] is None and got["headers"] is None
    assert got["error_msg"].startswith("Timeout of 300 ms reached. Total time: ")
    assert "(DNS time: " in got["error_msg"] and "HTTP Request/Response time: " in got["error_msg"]
    time.sleep(5 * POLL)
    assert target.count("/slow/5000") == 1  # never retried


def test_a_refused_connection_writes_an_error(net_db, worker):
    request_id = net_db.scalar("SELECT net.http_get(%s)", (f"http://127.0.0.1:{free_port()}/",))
    got = response(net_db, request_id)
    assert got["error_msg"] == "Could not connect to server"
    assert got["timed_out"] is False and got["status_code"] is None


def test_an_unsupported_protocol_writes_curls_error(net_db, worker):
    request_id = net_db.scalar("SELECT net.http_get('ftp://127.0.0.1/file')")
    assert response(net_db, request_id)["error_msg"] == "Unsupported protocol"


def test_loopback_requests_never_go_through_a_proxy(net_db, target, monkeypatch):
    # The target doubles as the proxy: a request it gets through a proxy names the absolute URL.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", target.url(""))
    monkeypatch.setenv("http_proxy", target.url(""))
    with start_worker(net_db.url, poll_interval=POLL):
        direct = net_db.scalar("SELECT net.http_get(%s)", (target.url("/direct"),))
        outward = net_db.scalar("SELECT net.http_get('http://pg-net-proxy-test.invalid/outward')")
        assert response(net_db, direct)["status_code"] == 200
        assert response(net_db, outward)["status_code"] == 200
    assert target.count("/direct") == 1
    assert target.count("http://pg-net-proxy-test.invalid/outward") == 1


def test_an_error_status_is_an_answer_and_is_not_retried(net_db, target, worker):
    request_id = net_db.scalar("SELECT net.http_post(%s)", (target.url("/status/503"),))
    got = response(net_db, request_id)
    assert got["status_code"] == 503 and got["error_msg"] is None
    time.sleep(5 * POLL)
    assert target.count("/status/503") == 1


def test_responses_older_than_the_default_ttl_of_6_hours_are_deleted(net_db, worker):
    net_db.execute("INSERT INTO net._http_response (id, status_code, created) VALUES"
                   " (-1, 200, now() - interval '6 hours 1 minute'), (-2, 200, now() - interval '5 hours 59 minutes')")
    deadline = time.monotonic() + 10
    while net_db.scalar("SELECT count(*) FROM net._http_response WHERE id = -1") and time.monotonic() < deadline:
        time.sleep(POLL)
    assert [r[0] for r in net_db.rows("SELECT id FROM net._http_response")] == [-2]


def test_the_ttl_is_a_setting(net_db, target):
    with start_worker(net_db.url, ttl_seconds=1, poll_interval=POLL):
        request_id = net_db.scalar("SELECT net.http_get(%s)", (target.url("/short-lived"),))
        response(net_db, request_id)
        deadline = time.monotonic() + 10
        while net_db.scalar("SELECT count(*) FROM net._http_response") and time.monotonic() < deadline:
            time.sleep(POLL)
        assert net_db.scalar("SELECT count(*) FROM net._http_response") == 0


def test_check_worker_is_up(net_db):
    # It looks at the whole cluster: a worker stopped by an earlier test may still be leaving.
    deadline = time.monotonic() + 5
    while net_db.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(psycopg.errors.RaiseException, match="the pg_net background worker is not up"):
        net_db.execute("SELECT net.check_worker_is_up()")
    with start_worker(net_db.url, poll_interval=POLL):
        net_db.execute("SET ROLE anon; SELECT net.check_worker_is_up()")


def _worker_backend(db) -> int | None:
    return db.scalar("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
                     (APPLICATION_NAME,))


def test_the_worker_survives_a_terminated_backend(net_db, target, worker):
    first = _worker_backend(net_db)
    assert net_db.scalar("SELECT pg_terminate_backend(%s)", (first,))
    # Committed while the worker is away: read when it comes back, though no wake reached it.
    request_id = net_db.scalar("SELECT net.http_get(%s)", (target.url("/after-terminate"),))
    assert response(net_db, request_id)["status_code"] == 200
    assert worker.running()
    assert _worker_backend(net_db) not in (None, first)


def test_the_worker_survives_a_database_restart(net_db, target, worker):
    request_id = net_db.scalar("SELECT net.http_get(%s)", (target.url("/before"),))
    response(net_db, request_id)
    net_db.cluster.down()
    try:
        time.sleep(1.5)  # a few failed reconnects
        assert worker.running()
    finally:
        net_db.cluster.up()
    request_id = net_db.scalar("SELECT net.http_get(%s)", (target.url("/after-restart"),))
    assert response(net_db, request_id, timeout=20)["status_code"] == 200
    assert worker.running()
    assert "retrying in" in worker.log()


def test_start_worker_says_when_the_database_is_unreachable():
    dead = f"postgresql://postgres:x@127.0.0.1:{free_port()}/postgres?connect_timeout=1"
    with pytest.raises(ToolkitError, match="did not reach its database within 2 s"):
        start_worker(dead, ready_timeout=2)
    with pytest.raises(ValueError, match="batch_size"):
        start_worker(dead, batch_size=0)


def test_the_worker_dies_with_the_process_that_started_it(net_db):
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from toolkit.dev.pg_net import start_worker;"
         " w = start_worker(sys.argv[1]); print(w.pid, flush=True); time.sleep(60)", net_db.url],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pid = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)



def test_a_request_url_keeps_its_params_on_the_wire(net_db, target, worker):
    request_id = net_db.scalar("SELECT net.http_get(%s, params => %s::jsonb)",
                               (target.url("/p?z=1"), json.dumps({"a": "x y", "b": "é"})))
    response(net_db, request_id)
    (hit,) = [h for h in target.hits if h.path.startswith("/p")]
    assert urllib.parse.urlsplit(hit.path).query == "z=1&a=x%20y&b=%C3%A9"
