"""The processing path through outages, with real processes: the processor (the served Edge
Function) killed with SIGKILL mid-batch, and the external ticker (`toolkit processor run`, a
process of its own) across a cluster stopped and started again and a postmaster killed with
SIGKILL. A cluster of its own: these tests stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.conftest import EXAMPLE, ROOT
from tests.queue_helpers import configure, enqueue
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.dev.local.cluster import LocalCluster
from toolkit.dev.processes import free_port, watchdog
from toolkit.dev.sandbox import SandboxServer
from toolkit.engine import Engine
from toolkit.processor import Ticker
from toolkit.errors import ToolkitError

SECRET = "outage-test-jwt-secret-0123456789abcdef"
PLAN = load_plan(ROOT / "phases.yaml")


class Db:
    def __init__(self, url: str):
        self.url = url

    def connect(self, **kw):
        return psycopg.connect(self.url, **kw)

    def scalar(self, sql: str, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

    def rows(self, sql: str, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params=None) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql, params)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("outages") / "local"
    cluster = LocalCluster(home, port=free_port())
    cluster.up(bootstrap_example=EXAMPLE)
    state = cluster.state()
    stop = [str(state.bindir) + "/pg_ctl", "-D", str(state.data_dir), "-m", "immediate", "stop"]
    guard = watchdog(cleanup=["runuser", "-u", "postgres", "--", *stop] if os.geteuid() == 0 else stop)
    db = Db(cluster.conninfo())
    Engine(PLAN, target_from_url(db.url), "pytest").apply([0, 1, 2])
    # The legacy jobs are paused, as for migrated types: the quote job rewrites every quote each
    # minute, which would read as a second write of a job's rows.
    db.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname LIKE 'refresh-%'")
    # Short recovery and breaker times, so that the tests need seconds, not minutes.
    configure(db, stuck_timeout_seconds=2, breaker_open_seconds=1, backoff_base_seconds=0.5, backoff_max_seconds=1)
    with SandboxServer(port=0) as sandbox:
        yield {"cluster": cluster, "db": db, "sandbox": sandbox}
    cluster.destroy()
    guard.send_signal(signal.SIGTERM)


def _gateway(stack, **kw):
    return serve(stack["db"].url, names=PLAN.plan.names, port=None, jwt_secret=SECRET,
                 market_data_url=stack["sandbox"].url, api_key="sandbox", timeout_ms=3000, **kw)


def _wait(what: str, probe, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (psycopg.OperationalError, ToolkitError):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def test_a_processor_killed_mid_batch_loses_nothing_and_writes_nothing_twice(stack):
    db, sandbox = stack["db"], stack["sandbox"]
    db.execute("TRUNCATE public.api_call_queue_v2")
    # Every write of a quote row, to see who wrote it when.
    db.execute("CREATE TABLE IF NOT EXISTS public.quote_writes (symbol text, at timestamptz DEFAULT clock_timestamp())")
    db.execute("""CREATE OR REPLACE FUNCTION public.log_quote_write() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN INSERT INTO public.quote_writes (symbol) VALUES (NEW.symbol); RETURN NEW; END $$""")
    db.execute("CREATE OR REPLACE TRIGGER quote_writes AFTER INSERT OR UPDATE ON public.stock_quotes "
               "FOR EACH ROW EXECUTE FUNCTION public.log_quote_write()")
    sandbox.reset()
    sandbox.set_faults(latency_ms=1500)  # calls in flight when the processor dies
    enqueue(db, 30, "quote", "K")
    doomed = _gateway(stack)
    ticker = Ticker(PLAN.plan, target_from_url(db.url), f"{doomed.functions_url}/queue-processor-v2", doomed.token())
    run = threading.Thread(target=ticker.tick, daemon=True)
    run.start()
    _wait("calls in flight", lambda: sandbox.stats()["calls"] >= 3, 30)
    time.sleep(0.3)
    os.killpg(doomed.process.pid, signal.SIGKILL)
    run.join(30)
    doomed.stop()
    in_flight = db.scalar("SELECT count(*) FROM public.api_call_queue_v2_processing")
    assert in_flight > 0  # the kill left claimed jobs behind

    sandbox.set_faults(latency_ms=0)
    with _gateway(stack) as server:
        ticker = Ticker(PLAN.plan, target_from_url(db.url), f"{server.functions_url}/queue-processor-v2",
                        server.token())
        time.sleep(2.2)  # the stuck timeout: each tick recovers first
        _wait("every job completed", lambda: (ticker.run(interval=0.3, until_empty=True, max_ticks=20)
                                               and db.scalar("SELECT count(*) FROM public.api_call_queue_v2 "
                                                             "WHERE status <> 'completed'") == 0), 90)
    jobs = db.rows("SELECT id, symbol, started_at, finished_at, attempts FROM public.api_call_queue_v2")
    assert len(jobs) == 30 and len({j[0] for j in jobs}) == 30  # each job completed exactly once
    assert db.scalar("SELECT count(*) FROM public.api_call_queue_v2_completed") == 30
    for _, symbol, started, finished, _ in jobs:
        # While the claim that completed a job held it, only that claim wrote its row; nothing
        # wrote it after.
        writes = [w[0] for w in db.rows("SELECT at FROM public.quote_writes WHERE symbol = %s", [symbol])]
        assert sum(started <= at <= finished for at in writes) == 1, (symbol, writes, started, finished)
        assert all(at <= finished for at in writes), (symbol, writes, finished)
    assert max(j[4] for j in jobs) >= 2  # the recovered ones ran again


def test_the_ticker_survives_a_stopped_and_a_killed_database(stack, tmp_path):
    cluster, db = stack["cluster"], stack["db"]
    db.execute("TRUNCATE public.api_call_queue_v2")
    with _gateway(stack) as server:
        log = tmp_path / "ticker.log"
        env = {**os.environ, "SUPABASE_SERVICE_ROLE_KEY": server.token(), "NO_COLOR": "1"}
        with open(log, "wb") as out:
            ticker = subprocess.Popen(
                [sys.executable, "-m", "toolkit", "--plan", str(ROOT / "phases.yaml"), "--db-url", db.url,
                 "processor", "run", "--interval", "0.5", "--max-backoff", "2",
                 "--url", f"{server.functions_url}/queue-processor-v2"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True)
        try:
            def completed(prefix: str) -> bool:
                return db.scalar("SELECT count(*) FROM public.api_call_queue_v2_completed WHERE symbol LIKE %s",
                                 [prefix + "%"]) == 10

            enqueue(db, 10, "quote", "A")
            _wait("the first jobs processed", lambda: completed("A"), 60)

            cluster.down()  # `toolkit local down`
            time.sleep(4)
            assert ticker.poll() is None, log.read_text()
            cluster.up()  # `toolkit local up`
            enqueue(db, 10, "quote", "B")
            _wait("the jobs queued after the restart processed", lambda: completed("B"), 60)

            os.kill(cluster.pid(), signal.SIGKILL)  # the postmaster, as a crash would
            time.sleep(2)
            _wait("the cluster back after its crash", lambda: cluster.up() and True, 60)
            enqueue(db, 10, "quote", "C")
            _wait("the jobs queued after the crash processed", lambda: completed("C"), 60)
            assert ticker.poll() is None, log.read_text()
        finally:
            ticker.send_signal(signal.SIGTERM)
            try:
                code = ticker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(ticker.pid, signal.SIGKILL)
                raise
    output = " ".join(log.read_text().split())  # rich wraps long lines
    assert code == 0, output
    assert output.count("outage: ") >= 2 and output.count("outage over after") >= 2, output
    assert "stopped by SIGTERM" in output and "Traceback" not in output, output
