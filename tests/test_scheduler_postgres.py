"""The "all in Postgres" scheduler mode end to end, with nothing outside the database driving
it: pg_cron really running, the pg_net stand-in's worker sending what pg_cron's jobs queue,
the served queue processor, and the processor key read from Vault. A cluster of its own: pg_cron
runs jobs in one database per cluster, and this module owns that one."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from tests.conftest import EXAMPLE, ROOT, Cli
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.dev.jwt import mint_jwt
from toolkit.dev.local.cluster import LocalCluster
from toolkit.dev.processes import free_port
from toolkit.dev.sandbox import SandboxServer
from toolkit.engine import Engine
from toolkit.flags import Flags
from toolkit.vault import set_secret

SECRET = "postgres-mode-test-jwt-secret-0123456789abcdef"
CRON_WAIT = 150  # pg_cron starts jobs on the minute: two of them, and the processor's run


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("pg-mode") / "local"
    cluster = LocalCluster(home, port=free_port())
    cluster.up(bootstrap_example=EXAMPLE)
    gateway_port = free_port()
    project = home.parent / "project"
    project.mkdir()
    text = (ROOT / "phases.yaml").read_text()
    for old, new in (("  scheduler_mode: external ", "  scheduler_mode: postgres "),
                     ("  # processor_url:", f"  processor_url: http://127.0.0.1:{gateway_port}/functions/v1/"
                                            "queue-processor-v2\n  # was processor_url:")):
        assert old in text
        text = text.replace(old, new)
    (project / "phases.yaml").write_text(text)
    loaded = load_plan(project / "phases.yaml", ROOT / "templates")
    url = cluster.conninfo()
    with SandboxServer(port=0) as sandbox, \
            serve(url, names=loaded.plan.names, port=gateway_port, jwt_secret=SECRET, market_data_url=sandbox.url,
                  api_key="sandbox") as gateway:
        target = target_from_url(url)
        Engine(loaded, target, "pytest").apply([0, 1, 2, 3])
        set_secret(target, "service_role_key", mint_jwt(SECRET, sub="pg_cron", role="service_role", ttl=3600))
        # A continuous run answers pg_net at its end: short runs, so that answers come soon.
        _scalar(url, "UPDATE public.queue_config_v2 SET processor_run_seconds = 10 RETURNING 1")
        yield {"cluster": cluster, "url": url, "plan": project / "phases.yaml", "gateway": gateway,
               "sandbox": sandbox}
    cluster.destroy()


def _scalar(url: str, sql: str, params=None):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def _wait(what: str, probe, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def test_the_pg_net_steps_apply_and_tick_in_postgres_mode(stack, tmp_path, monkeypatch):
    url = stack["url"]
    assert stack["cluster"].status()["pg_net_worker"]  # started with the cluster, by `local up`
    assert _scalar(url, "SELECT count(*) FROM toolkit.ledger WHERE step IN ('enable_pg_net', 'grant_net_usage')") == 2
    assert _scalar(url, "SELECT count(*) FROM cron.job WHERE jobname = 'queue-processor_v2' AND active") == 1
    document = tmp_path / "PROGRESS.md"
    document.write_bytes((ROOT / "tests/fixtures/PROGRESS.seed.md").read_bytes())
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(document))
    db = type("Db", (), {"url": url})()
    synced = Cli(db, stack["plan"])("progress", "sync")
    assert synced.exit_code == 0, synced.output
    text = document.read_text(encoding="utf-8")
    assert "- [x] Enable `pg_net` extension" in text and "- [x] Grant `USAGE ON SCHEMA net` to cron job role" in text


def test_a_tracked_page_is_refreshed_by_pg_cron_and_pg_net_alone(stack):
    url = stack["url"]
    flags = Flags(target_from_url(url))
    for flag in ("use_queue_system", "use_queue_for_quote"):
        flags.set(flag, True, "pytest", "postgres scheduler mode test")
    # As for a migrated type: the legacy job is paused (it refreshes every quote each minute, so
    # the viewed quote would otherwise be fresh or stale by the clock), and the quote is stale.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname = 'refresh-stock-quotes'")
        conn.execute("UPDATE public.stock_quotes SET updated_at = now() - interval '1 hour' WHERE symbol = 'NVDA'")
    user = str(uuid.uuid4())
    token = mint_jwt(SECRET, sub=user, role="authenticated")
    request = urllib.request.Request(
        f"{stack['gateway'].functions_url}/track-subscription-v2", method="POST",
        data=json.dumps({"symbol": "NVDA", "dataTypes": ["quote"]}).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as r:
        answer = json.loads(r.read())
    assert answer["tracked"] and [q["data_type"] for q in answer["queued"]] == ["quote"]
    # No ticker: pg_cron runs invoke_processor_loop, pg_net calls the processor with Vault's key.
    _wait("the queued quote being completed",
          lambda: _scalar(url, "SELECT count(*) FROM public.api_call_queue_v2_completed WHERE symbol = 'NVDA'"),
          CRON_WAIT)
    assert _scalar(url, "SELECT price IS NOT NULL FROM public.stock_quotes WHERE symbol = 'NVDA'")
    # The run that took it answers pg_net when its run time is up.
    _wait("the processor's answer through pg_net",
          lambda: _scalar(url, "SELECT count(*) FROM net._http_response WHERE status_code = 200"), 60)
    assert stack["sandbox"].stats()["calls"] >= 1


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "boom"}')

    def log_message(self, *args):
        pass


def test_the_breaker_opens_on_500s_seen_through_pg_net_and_closes_again(stack):
    url = stack["url"]
    # This test drives the loop and reads the answers itself: pg_cron's processor and presence
    # jobs (the presence check feeds the breaker too) wait meanwhile.
    jobs = [_scalar(url, "SELECT jobid FROM cron.job WHERE jobname = %s", [name])
            for name in ("queue-processor_v2", "queue-presence-check_v2")]
    for job in jobs:
        _scalar(url, "SELECT cron.alter_job(%s, active := false)", [job])
    # A run pg_cron started before is asked to stop (as the ticker's stop does), and every call
    # of the processor is answered, so that no run of before reports to the breaker meanwhile.
    _scalar(url, "UPDATE public.processor_state_v2 SET run_id = NULL, run_started_at = NULL, run_ends_at = NULL, "
                 "run_lease_until = NULL RETURNING 1")
    _wait("the calls of the processor answered", lambda: _scalar(
        url, "SELECT NOT EXISTS (SELECT 1 FROM net.http_request_queue) AND COALESCE((SELECT last_value FROM "
             "net.http_request_queue_id_seq WHERE is_called), 0) <= COALESCE((SELECT max(id) FROM net._http_response), 0)"), 60)
    failing = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=failing.serve_forever, daemon=True).start()
    real = _scalar(url, "SELECT processor_url FROM public.queue_config_v2")
    try:
        _scalar(url, "UPDATE public.queue_config_v2 SET processor_url = %s, breaker_failure_threshold = 2, "
                     "breaker_open_seconds = 1 RETURNING 1", [f"http://127.0.0.1:{failing.server_port}/fail"])
        _scalar(url, "SELECT count(*) FROM public.queue_refreshes_v2(ARRAY['AMD', 'INTC'], ARRAY['quote', 'quote'], "
                     "ARRAY[0, 0])")
        states = []
        for _ in range(2):
            loop = _scalar(url, "SELECT public.invoke_processor_loop_v2()")
            assert loop["action"] == "invoked", loop
            _wait("pg_net's answer", lambda: _scalar(url, "SELECT status_code FROM net._http_response WHERE id = %s",
                                                     [loop["request_id"]]), 30)
            states.append(_scalar(url, "SELECT public.check_processor_responses_v2()"))
        assert states == ["closed", "open"]
        assert _scalar(url, "SELECT count(*) FROM public.ops_events WHERE event = 'circuit breaker opened'") >= 1

        _scalar(url, "UPDATE public.queue_config_v2 SET processor_url = %s RETURNING 1", [real])
        time.sleep(1.2)  # the open time passes: the next call is the half-open probe
        probe = _scalar(url, "SELECT public.invoke_processor_loop_v2()")
        assert probe["action"] == "invoked" and probe["probe"] is True, probe
        _wait("the probe's answer", lambda: _scalar(url, "SELECT status_code FROM net._http_response WHERE id = %s",
                                                    [probe["request_id"]]), 60)
        assert _scalar(url, "SELECT public.check_processor_responses_v2()") == "closed"
        assert _scalar(url, "SELECT breaker_state FROM public.processor_state_v2") == "closed"
    finally:
        failing.shutdown()
        _scalar(url, "UPDATE public.queue_config_v2 SET processor_url = %s RETURNING 1", [real])
        for job in jobs:
            _scalar(url, "SELECT cron.alter_job(%s, active := true)", [job])
