"""Phase 2's guarantees under faults, against a real PostgreSQL: call permits (the budget spent
where the provider counts it), leases (only the claim that holds a job acknowledges it), the
breaker (it judges runs), the ring past 2038, and configuration apart from runtime state."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.queue_helpers import configure, enqueue, permits, unlimited
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.sandbox.server import SandboxServer
from toolkit.engine import Engine
from toolkit.queue import Queue

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _claim(db, worker: str, n: int) -> list[tuple[int, int]]:
    return db.rows("SELECT id, lease FROM public.get_queue_batch_v2(%s, %s) ORDER BY id", [worker, n])


def _permits(db, requests: list[tuple[int, int, int]]) -> dict:
    with db.connect(autocommit=True) as conn:
        return permits(conn, requests)


# -- call permits ---------------------------------------------------------------------------

def test_permits_go_to_the_lease_holder_each_request_whole_in_order(queue_db):
    unlimited(queue_db)
    configure(queue_db, calls_per_window=5)
    enqueue(queue_db, 4)
    (a, la), (b, lb), (c, lc), (d, ld) = _claim(queue_db, "w", 4)
    # 1 + 3 fit in 5; the third (2 more) does not, and nothing after it is granted either.
    assert _permits(queue_db, [(a, la, 1), (b, lb, 3), (c, lc, 2), (d, ld, 1)]) == {
        a: (True, None), b: (True, None), c: (False, "budget"), d: (False, "budget")}
    # A request under a lease that does not hold the job is refused whatever the budget.
    assert _permits(queue_db, [(c, lc + 1, 1), (d, ld, 1)]) == {c: (False, "lease"), d: (True, None)}
    assert queue_db.scalar("SELECT sum(calls) FROM public.api_data_usage_v2") == 5
    status = queue_db.scalar("SELECT public.get_quota_status_v2()")
    assert (status["calls_used"], status["exceeded"]) == (5, True)
    # A claim sizes its batch by the calls left: none now.
    enqueue(queue_db, 1, prefix="X")
    assert _claim(queue_db, "w", 5) == []


def test_a_permit_is_counted_for_the_window_and_the_slack_a_call_may_take_to_arrive(queue_db):
    # Window 2 s and slack 0.5 s, slots of 125 ms: the ring holds its total and ceil(2.5 / 0.125)
    # + 1 = 21 slots, and the slot of a permit stays in it for the window plus the slack, and at
    # most one slot more, whatever moment within its slot the permit fell on.
    unlimited(queue_db)
    configure(queue_db, calls_per_window=3, call_window_seconds=2, call_slack_ms=500)
    assert queue_db.rows("SELECT cardinality(call_ring), ring_slot_ms FROM public.api_quota_state_v2") == [(22, 125)]
    enqueue(queue_db, 2)
    (a, la), (b, lb) = _claim(queue_db, "w", 2)
    # The permit is taken in the second half of a second, where its slot is not its second's first.
    fraction = float(queue_db.scalar("SELECT extract(epoch FROM clock_timestamp()) % 1"))
    time.sleep((0.55 - fraction) % 1)
    before = queue_db.scalar("SELECT floor(extract(epoch FROM clock_timestamp()) * 8)::bigint")
    assert _permits(queue_db, [(a, la, 3)]) == {a: (True, None)}
    first = time.monotonic()
    after = queue_db.scalar("SELECT floor(extract(epoch FROM clock_timestamp()) * 8)::bigint")
    # The calls sit in the slot of the permit's moment (epoch ms / 125), and nowhere else.
    ring, slot = queue_db.rows("SELECT call_ring, ring_epoch FROM public.api_quota_state_v2")[0]
    assert before <= slot <= after and ring[0] == 3 and ring[1 + slot % 21] == 3 and sum(ring[1:]) == 3, \
        (before, slot, after, ring)
    # The ring still counts them 20 slots on (2.5 s) and has let them go 21 slots on.
    advanced = "SELECT public.quota_ring_advance_v2(%s, %s, %s)"
    assert queue_db.scalar(advanced, [ring, slot, slot + 20])[0] == 3
    assert queue_db.scalar(advanced, [ring, slot, slot + 21]) == [0] * 22
    while _permits(queue_db, [(b, lb, 1)]) != {b: (True, None)}:
        time.sleep(0.02)
    waited = time.monotonic() - first
    assert waited > 2 + 0.5 - 0.1, f"a call was permitted again after {waited:.2f} s"
    assert waited < 2 + 0.5 + 0.125 + 1.5


def test_the_ring_works_past_2038(queue_db):
    # 2147483647 is 2038-01-19 03:14:07 UTC, the last second a 32-bit integer holds.
    # The ring is its total, then its slots.
    assert queue_db.scalar("SELECT public.quota_ring_advance_v2(ARRAY[5,1,1,1,1,1], 2147483645, 2147483649)") == \
        [1, 1, 0, 0, 0, 0]
    assert queue_db.scalar("SELECT public.quota_ring_advance_v2(ARRAY[15,1,2,3,4,5], 4102444800, 4102444802)") == \
        [10, 1, 0, 0, 4, 5]  # 2100-01-01: slots ...801 and ...802 leave the ring (places 1 and 2, from 0)
    assert queue_db.scalar("SELECT public.quota_ring_advance_v2(ARRAY[21,7,7,7], 4102444800, 4102444900)") == \
        [0, 0, 0, 0]
    # The status and the permits read a ring last written after 2038 without an error.
    queue_db.execute("UPDATE public.api_quota_state_v2 SET ring_epoch = 4102444800")
    assert queue_db.scalar("SELECT public.get_quota_status_v2() ->> 'calls_used'") is not None
    unlimited(queue_db)
    queue_db.execute("UPDATE public.api_quota_state_v2 SET ring_epoch = 2147483648")
    enqueue(queue_db, 1)
    [(a, la)] = _claim(queue_db, "w", 1)
    assert _permits(queue_db, [(a, la, 1)]) == {a: (True, None)}


# -- leases -----------------------------------------------------------------------------------

def _call_provider(sandbox: SandboxServer, symbol: str) -> int:
    with _DIRECT.open(f"{sandbox.url}/quote?symbol={symbol}&apikey=k", timeout=10) as r:
        return len(r.read())


def _worker_calls(db, sandbox, job: int, lease: int, symbol: str) -> int | None:
    """What a worker does for a job: a permit under its lease, then the call; None without one."""
    granted, _ = _permits(db, [(job, lease, 1)])[job]
    return _call_provider(sandbox, symbol) if granted else None


def test_a_stale_worker_can_neither_call_nor_acknowledge_and_the_holder_completes(queue_db):
    unlimited(queue_db)
    configure(queue_db, stuck_timeout_seconds=1)
    job = queue_db.scalar("SELECT job_id FROM public.queue_refresh_if_not_exists_v2('AAPL', 'quote', 1)")
    with SandboxServer(port=0) as sandbox:
        [(_, lease_a)] = _claim(queue_db, "A", 1)
        assert _worker_calls(queue_db, sandbox, job, lease_a, "AAPL")  # A held it: A called
        time.sleep(1.2)  # A's answer is slow: the job is recovered and B claims it
        assert queue_db.scalar("SELECT public.recover_stuck_jobs_v2()") == 1
        [(_, lease_b)] = _claim(queue_db, "B", 1)
        assert lease_b != lease_a
        # A, still running, tries to call again (a retry, a second endpoint): no permit, no call.
        assert _worker_calls(queue_db, sandbox, job, lease_a, "AAPL") is None
        # A's acknowledgements are refused, each of them, and change nothing.
        assert queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)", [[job], [lease_a], [111]]) == []
        assert queue_db.scalar("SELECT public.fail_queue_job_v2(%s, %s, 'HTTP 404', false, 22)", [job, lease_a]) == "refused"
        assert queue_db.scalar("SELECT public.reset_job_immediate_v2(%s, %s, 'deadlock', 33)", [job, lease_a]) is False
        assert queue_db.rows("SELECT status, worker_id, lease, attempts FROM public.api_call_queue_v2") == [
            ("processing", "B", lease_b, 2)]
        # B, the holder, calls and completes: that completion counts.
        size = _worker_calls(queue_db, sandbox, job, lease_b, "AAPL")
        assert queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)", [[job], [lease_b], [size]]) == [
            (job,)]
        # The provider was called once per claim that held the lease.
        assert sandbox.stats()["calls"] == 2
    assert queue_db.rows("SELECT status, lease, actual_bytes FROM public.api_call_queue_v2") == [
        ("completed", lease_b, size)]
    refused = queue_db.rows("SELECT details ->> 'action', (details ->> 'lease')::bigint, details ->> 'job_status', "
                            "(details ->> 'held_by_lease')::bigint FROM public.ops_events "
                            "WHERE event = 'stale acknowledgement refused' ORDER BY id")
    assert refused == [("complete", lease_a, "processing", lease_b), ("fail", lease_a, "processing", lease_b),
                       ("reset", lease_a, "processing", lease_b)]
    usage = queue_db.rows("SELECT sum(refused_acks), sum(calls), sum(completed_jobs), sum(failed_jobs), sum(bytes) "
                          "FROM public.api_data_usage_v2")
    # Counted; the stale worker's bytes accounted (the provider sent them); only B's job completed.
    assert usage == [(3, 2, 1, 0, 111 + 22 + 33 + size)]


def test_a_stale_completion_in_a_batch_refuses_only_the_jobs_no_longer_held(queue_db):
    unlimited(queue_db)
    enqueue(queue_db, 3)
    (a, la), (b, lb), (c, lc) = _claim(queue_db, "w", 3)
    # b was put back and claimed again by another worker meanwhile.
    assert queue_db.scalar("SELECT public.reset_job_immediate_v2(%s, %s, 'deadlock', 0)", [b, lb]) is True
    [(b2, lb2)] = _claim(queue_db, "other", 1)
    assert (b2, lb2 != lb) == (b, True)
    done = queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)", [[a, b, c], [la, lb, lc], [1, 2, 3]])
    assert sorted(r[0] for r in done) == [a, c]
    assert queue_db.rows("SELECT status, lease FROM public.api_call_queue_v2 WHERE id = %s", [b]) == [("processing", lb2)]
    assert queue_db.scalar("SELECT count(*) FROM public.ops_events WHERE event = 'stale acknowledgement refused'") == 1


# -- the breaker ------------------------------------------------------------------------------

def _run(db, ok: bool, calls: int, failures: int) -> str:
    return db.scalar("SELECT public.record_processor_result_v2(%s, %s, %s, %s)",
                     [ok, "HTTP 503" if failures or not ok else None, calls, failures])


def _breaker_events(db) -> list[tuple[str, str]]:
    return db.rows("SELECT event, details ->> 'reason' FROM public.ops_events WHERE event LIKE 'circuit breaker%%' "
                   "ORDER BY id")


def test_the_breaker_does_not_open_on_a_few_failed_calls(queue_db):
    configure(queue_db, breaker_failure_threshold=3, breaker_error_rate=0.5, breaker_min_calls=20)
    # 2% of calls fail, and a failure in almost every run: the breaker stays closed.
    states = {_run(queue_db, True, 50, 1) for _ in range(60)}
    assert states == {"closed"} and _breaker_events(queue_db) == []


def test_the_breaker_opens_after_failed_runs_in_a_row_not_on_one(queue_db):
    configure(queue_db, breaker_failure_threshold=3)
    assert [_run(queue_db, False, 0, 0), _run(queue_db, True, 4, 1)] == ["closed", "closed"]  # reset by a success
    assert [_run(queue_db, True, 2, 2), _run(queue_db, False, 0, 0), _run(queue_db, True, 0, 0)] == ["closed"] * 3
    assert _run(queue_db, True, 3, 3) == "open"  # every call of three runs in a row failed
    [(event, reason)] = _breaker_events(queue_db)
    assert event == "circuit breaker opened" and reason.startswith("3 failed runs in a row")


def test_the_breaker_opens_on_the_error_rate_over_its_window(queue_db):
    configure(queue_db, breaker_failure_threshold=100, breaker_error_rate=0.5, breaker_min_calls=20,
              breaker_window_seconds=60)
    # Runs where most calls fail but some are answered: no run fails, the rate does it.
    assert _run(queue_db, True, 10, 6) == "closed"  # 10 calls: fewer than the minimum to judge
    assert _run(queue_db, True, 10, 6) == "open"
    [(_, reason)] = _breaker_events(queue_db)
    assert reason.startswith("error rate 60.0% over the last 60 s (12 of 20 calls failed")


def test_the_half_open_probe_is_one_small_batch_of_calls_and_closing_is_logged(queue_db):
    unlimited(queue_db)
    configure(queue_db, breaker_failure_threshold=1, breaker_open_seconds=0.5, breaker_probe_calls=3)
    enqueue(queue_db, 7)  # one stays due, so that the loop has a reason to probe
    assert _run(queue_db, False, 0, 0) == "open"
    jobs = _claim(queue_db, "w", 6)
    assert set(_permits(queue_db, [(j, lease, 1) for j, lease in jobs]).values()) == {(False, "breaker")}
    time.sleep(0.6)
    assert queue_db.scalar("SELECT public.invoke_processor_loop_v2()")["probe"] is True
    # The probe may make 3 calls, whoever asks, then no more.
    granted = _permits(queue_db, [(j, lease, 1) for j, lease in jobs[:2]])
    assert set(granted.values()) == {(True, None)}
    rest = _permits(queue_db, [(j, lease, 1) for j, lease in jobs[2:]])
    assert list(rest.values()) == [(True, None), (False, "breaker"), (False, "breaker"), (False, "breaker")]
    assert queue_db.scalar("SELECT sum(calls) FROM public.api_data_usage_v2") == 3
    assert _run(queue_db, True, 3, 0) == "closed"
    assert [e for e, _ in _breaker_events(queue_db)] == ["circuit breaker opened", "circuit breaker half-open",
                                                         "circuit breaker closed"]
    assert "probe succeeded: 3 of 3" in _breaker_events(queue_db)[-1][1]
    assert all(g for g, _ in _permits(queue_db, [(j, lease, 1) for j, lease in jobs[3:]]).values())


# -- configuration apart from runtime state ------------------------------------------------------

def test_verify_passes_after_traffic_taught_the_size_estimates(queue_db):
    sample_rate = queue_db.scalar("SELECT estimate_sample_rate FROM public.queue_config_v2")
    configure(queue_db, estimate_sample_rate=1.0)  # every completion teaches (the plan's is a sample)
    enqueue(queue_db, 3, "quote", "Q")
    enqueue(queue_db, 2, "profile", "P")
    claimed = queue_db.rows("SELECT id, lease, data_type FROM public.get_queue_batch_v2('w', 10)")
    queue_db.rows("SELECT public.complete_queue_jobs_v2(%s, %s, %s)",
                  [[c[0] for c in claimed], [c[1] for c in claimed], [9999 if c[2] == "quote" else 77 for c in claimed]])
    learned = dict(queue_db.rows("SELECT data_type, learned_bytes FROM public.data_type_registry_v2 "
                                 "WHERE learned_bytes IS NOT NULL"))
    assert set(learned) == {"quote", "profile"} and learned["quote"] > 1200
    configure(queue_db, estimate_sample_rate=sample_rate)  # the configuration as deployed again
    # verify compares what phases.yaml configures, which traffic does not change.
    engine = Engine(load_plan(ROOT / "phases.yaml"), target_from_url(queue_db.url), "pytest")
    for phase in (0, 1, 2):
        assert [r for r in engine.verify(phase) if r["result"] == "fail"] == [], phase
    # The next claim uses what was learned; `queue status` reports it.
    enqueue(queue_db, 1, "quote", "N")
    assert queue_db.scalar("SELECT estimated_bytes FROM public.get_queue_batch_v2('w', 1)") == learned["quote"]
    runtime = Queue(load_plan(ROOT / "phases.yaml").plan, target_from_url(queue_db.url)).status()["runtime"]
    by_type = {t["data_type"]: t for t in runtime["types"]}
    assert (by_type["quote"]["configured_bytes"], by_type["quote"]["learned_bytes"]) == (1200, learned["quote"])
    assert runtime["breaker"]["state"] == "closed" and runtime["refused_acks_last_hour"] == 0
    json.dumps(runtime)  # what `queue status --json` prints


@pytest.mark.parametrize("action", ["complete", "fail", "reset"])
def test_an_acknowledgement_for_a_job_that_is_gone_is_refused(queue_db, action):
    unlimited(queue_db)
    enqueue(queue_db, 1)
    [(job, lease)] = _claim(queue_db, "w", 1)
    queue_db.execute("DELETE FROM public.api_call_queue_v2 WHERE id = %s", [job])
    sql = {"complete": "SELECT count(*) = 0 FROM public.complete_queue_jobs_v2(ARRAY[%s]::bigint[], ARRAY[%s]::bigint[], ARRAY[0]::bigint[])",
           "fail": "SELECT public.fail_queue_job_v2(%s, %s, 'x', true, 0) = 'refused'",
           "reset": "SELECT NOT public.reset_job_immediate_v2(%s, %s, 'x', 0)"}[action]
    assert queue_db.scalar(sql, [job, lease]) is True
    assert queue_db.rows("SELECT details ->> 'action', details ->> 'job_status' FROM public.ops_events "
                         "WHERE event = 'stale acknowledgement refused'") == [(action, None)]
