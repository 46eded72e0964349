"""Phase 2 against a real PostgreSQL with concurrent real connections."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest

from tests.queue_helpers import Worker, configure, enqueue, permits, run_workers, unlimited


def test_exactly_once_eight_claimers_drain_20000_jobs(queue_db):
    unlimited(queue_db)
    enqueue(queue_db, 20_000, priority_mod=7)
    workers = [Worker(queue_db.url, f"w{i}", batch=50) for i in range(8)]
    run_workers(workers)

    claimed = [job for w in workers for job in w.claimed]
    assert len(claimed) == 20_000
    assert len(set(claimed)) == 20_000, "a job was handed out twice"
    assert all(len(w.claimed) > 0 for w in workers), "every claimer took part"
    counts = dict(queue_db.rows("SELECT status, count(*) FROM public.api_call_queue_v2 GROUP BY status"))
    assert counts == {"completed": 20_000}
    assert queue_db.scalar("SELECT sum(completed_jobs) FROM public.api_data_usage_v2") == 20_000


def _max_calls_in_any_window(claims: list[tuple[float, int]], window: float) -> int:
    claims.sort()
    best, j, running = 0, 0, 0
    for i, (t, calls) in enumerate(claims):
        running += calls
        while claims[j][0] <= t - window:
            running -= claims[j][1]
            j += 1
        best = max(best, running)
    return best


@pytest.mark.parametrize("limit,window,seconds", [(300, 60, 63), (20, 3, 10)], ids=["300-per-minute", "20-per-3s"])
def test_sixteen_workers_with_permits_never_exceed_the_call_budget(queue_db, limit, window, seconds):
    # Each worker claims, takes a permit for each job's calls and "calls" at once (the moment is
    # what the provider would count); jobs without a permit go back. Slow or fast, the calls any
    # window sees stay within the budget.
    configure(queue_db, calls_per_window=limit, call_window_seconds=window, bytes_per_window=10**15)
    hold = float(queue_db.scalar("SELECT (c.call_slack_ms + s.ring_slot_ms) / 1000.0 + %s "
                                 "FROM public.queue_config_v2 AS c, public.api_quota_state_v2 AS s", [window]))
    enqueue(queue_db, 3000, "quote", "Q")
    enqueue(queue_db, 600, "financial-statements", "F")  # three endpoints: three calls a job
    deadline = time.monotonic() + seconds
    calls: list[tuple[float, int]] = []
    workers = [Worker(queue_db.url, f"w{i}", batch=10, deadline=deadline, pause=0.02, calls=calls) for i in range(16)]
    run_workers(workers, timeout=seconds + 60)

    # Jobs that got no permit went back without spending an attempt.
    assert queue_db.rows("SELECT DISTINCT attempts FROM public.api_call_queue_v2_pending") in ([(0,)], [])
    assert queue_db.rows("SELECT DISTINCT attempts FROM public.api_call_queue_v2 WHERE status <> 'pending'") == [(1,)]
    worst = _max_calls_in_any_window(list(calls), window)
    assert worst <= limit, f"{worst} calls made within {window} s"
    # The budget is used, not starved: a full budget goes out every window + slack + one slot
    # of the ring (the slack a call may take to arrive; the ring counts slots of 125 ms).
    assert sum(c for _, c in calls) >= limit * (seconds // hold)
    assert sum(c for _, c in calls) == queue_db.scalar("SELECT sum(calls) FROM public.api_data_usage_v2")
    assert len(set(j for w in workers for j in w.claimed)) == len([j for w in workers for j in w.claimed])


def test_byte_window_is_never_exceeded_by_estimates(queue_db):
    estimate = queue_db.scalar("SELECT estimated_bytes FROM public.data_type_registry_v2 WHERE data_type = 'quote'")
    budget = estimate * 10 + estimate // 2
    configure(queue_db, calls_per_window=1_000_000, bytes_per_window=budget, estimate_sample_rate=0)
    enqueue(queue_db, 500)
    deadline = time.monotonic() + 3
    workers = [Worker(queue_db.url, f"w{i}", batch=4, deadline=deadline, bytes_for={"quote": estimate})
               for i in range(16)]
    run_workers(workers)
    claimed = [j for w in workers for j in w.claimed]
    assert len(claimed) == 10
    reserved = queue_db.scalar("SELECT sum(estimated_bytes) FROM public.api_call_queue_v2 WHERE started_at IS NOT NULL")
    assert reserved <= budget
    status = queue_db.scalar("SELECT public.get_quota_status_v2()")
    assert status["bytes_used"] == estimate * 10 and status["exceeded"] is False
    assert queue_db.scalar("SELECT count(*) FROM public.get_queue_batch_v2('late', 5)") == 0



def test_claims_count_the_byte_window_as_it_moves_and_within_its_minute(queue_db):
    """The quota row's byte cache as a claim finds it after a pause: it still holds a bucket
    that has left the window since, and not the buckets of the last minutes. The first claim
    moves the cache on; the next ones, within the minute, count what completions record."""
    estimate = queue_db.scalar("SELECT estimated_bytes FROM public.data_type_registry_v2 WHERE data_type = 'quote'")
    configure(queue_db, calls_per_window=1_000_000, bytes_per_window=estimate * 10 + estimate // 2,
              estimate_sample_rate=0, byte_window_days=30)
    minute = "date_trunc('minute', now())"
    queue_db.execute(
        "INSERT INTO public.api_data_usage_v2 (bucket, bytes) VALUES "
        f"({minute} - interval '35 days', %s), ({minute} - interval '3 minutes', %s)", [estimate * 100, estimate * 4])
    queue_db.execute(
        f"UPDATE public.api_quota_state_v2 SET window_from = {minute} - interval '40 days', "
        f"cached_until = {minute} - interval '10 minutes', cached_bytes = %s, reserved_total = 0, released_cached = 0",
        [estimate * 100])
    enqueue(queue_db, 20)
    # The old bucket no longer counts, the one of three minutes ago does: 6 estimates are left.
    first = queue_db.rows("SELECT id, lease FROM public.get_queue_batch_v2('w', 2)")
    assert len(first) == 2
    # Completed at three estimates each: 4 + 6 bytes' worth of estimates are used now.
    queue_db.rows("SELECT public.complete_queue_jobs_v2(%s, %s, %s)",
                  [[r[0] for r in first], [r[1] for r in first], [estimate * 3] * 2])
    claimed = [queue_db.scalar("SELECT count(*) FROM public.get_queue_batch_v2('w', 1)") for _ in range(3)]
    assert claimed == [0, 0, 0]
    queue_db.execute("UPDATE public.queue_config_v2 SET bytes_per_window = %s", [estimate * 13 + estimate // 2])
    got = [queue_db.scalar("SELECT count(*) FROM public.get_queue_batch_v2('w', 2)") for _ in range(3)]
    assert got == [2, 1, 0]
    status = queue_db.scalar("SELECT public.get_quota_status_v2()")
    assert status["bytes_used"] == estimate * 13

def test_a_batch_cut_to_the_budget_keeps_the_highest_priority_then_oldest_jobs(queue_db):
    estimate = queue_db.scalar("SELECT estimated_bytes FROM public.data_type_registry_v2 WHERE data_type = 'quote'")
    configure(queue_db, calls_per_window=1_000_000, bytes_per_window=estimate * 5 + estimate // 2,
              estimate_sample_rate=0)
    # Stored in an order unlike the claim's; the two priority-5 jobs differ only in age.
    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, priority, scheduled_for) "
        "SELECT v.s, 'quote', v.p, now() - make_interval(mins => v.m) FROM (VALUES "
        "('NEW5', 5, 1), ('P0', 0, 9), ('P9', 9, 1), ('P1', 1, 9), ('P8', 8, 1), ('P7', 7, 1), "
        "('OLD5', 5, 60), ('P6', 6, 1), ('P2', 2, 9)) AS v(s, p, m)")
    got = queue_db.rows("SELECT symbol, attempts, scheduled_for <= now() FROM public.get_queue_batch_v2('w', 10)")
    assert sorted(got) == [(s, 1, True) for s in ("OLD5", "P6", "P7", "P8", "P9")]
    assert queue_db.rows("SELECT symbol, attempts, worker_id FROM public.api_call_queue_v2_pending ORDER BY symbol") == [
        ("NEW5", 0, None), ("P0", 0, None), ("P1", 0, None), ("P2", 0, None)]


def test_terminated_claimer_jobs_are_recovered_and_completed(queue_db):
    unlimited(queue_db)
    configure(queue_db, stuck_timeout_seconds=1)
    enqueue(queue_db, 100)
    victim = psycopg.connect(queue_db.url, autocommit=True)
    mid_tx = psycopg.connect(queue_db.url)
    try:
        held = victim.execute("SELECT id FROM public.get_queue_batch_v2('victim', 20)").fetchall()
        mid_tx.execute("SELECT id FROM public.get_queue_batch_v2('mid-transaction', 20)").fetchall()
        for conn in (victim, mid_tx):
            queue_db.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
    finally:
        victim.close()
        mid_tx.close()
    # The committed claim sits in processing; the uncommitted one was rolled back to pending.
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2_processing") == 20
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2_pending") == 80
    assert queue_db.scalar("SELECT public.recover_stuck_jobs_v2()") == 0  # not yet past the timeout
    time.sleep(1.2)
    assert queue_db.scalar("SELECT public.recover_stuck_jobs_v2()") == 20
    recovered = queue_db.rows("SELECT attempts, last_error FROM public.api_call_queue_v2_pending WHERE id = ANY(%s)",
                              [[r[0] for r in held]])
    assert len(recovered) == 20 and all(a == 1 and "stuck" in e for a, e in recovered)
    run_workers([Worker(queue_db.url, "survivor", batch=25)])
    assert dict(queue_db.rows("SELECT status, count(*) FROM public.api_call_queue_v2 GROUP BY status")) == {"completed": 100}


def test_sixteen_concurrent_enqueues_leave_one_live_job_with_the_highest_priority(queue_db):
    barrier = threading.Barrier(16)
    outcomes, errors = [], []

    def enqueue_one(priority: int):
        try:
            with psycopg.connect(queue_db.url, autocommit=True) as conn:
                conn.execute("SET ROLE service_role")
                barrier.wait()
                outcomes.append(conn.execute(
                    "SELECT outcome FROM public.queue_refresh_if_not_exists_v2('AAPL', 'quote', %s)",
                    [priority]).fetchone()[0])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=enqueue_one, args=(p,)) for p in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert Counter(outcomes)["queued"] == 1
    assert queue_db.rows("SELECT priority FROM public.api_call_queue_v2 WHERE symbol = 'AAPL'") == [(15,)]


def _wait_until_blocked(db, pid: int) -> None:
    for _ in range(200):
        if db.scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]) == "Lock":
            return
        time.sleep(0.02)
    raise AssertionError("the second session never waited for the lock")


def _run_until_blocked_then_release(db, conn, sql: str, release) -> tuple[list, list]:
    """Run sql on conn in a thread until its backend waits on a lock, then call release();
    returns the rows it fetched and the errors it raised."""
    rows, errors = [], []

    def run():
        try:
            rows.extend(conn.execute(sql).fetchall())
        except Exception as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    _wait_until_blocked(db, conn.info.backend_pid)
    release()
    t.join(10)
    return rows, errors


def test_a_budget_write_that_loses_a_race_is_recomputed_from_the_winner(queue_db):
    # The claim reads the budget row without locking it and writes it back only if nobody
    # wrote it meanwhile. Here another transaction writes it while the claim is cutting its
    # batch: the claim must start over from the winner's row, not overwrite it.
    unlimited(queue_db)
    enqueue(queue_db, 3)
    before = queue_db.scalar("SELECT reserved_total FROM public.api_quota_state_v2")
    writer = psycopg.connect(queue_db.url)
    claimer = psycopg.connect(queue_db.url, autocommit=True)
    try:
        writer.execute("UPDATE public.api_quota_state_v2 SET reserved_total = reserved_total + 5000")
        claimed, errors = _run_until_blocked_then_release(
            queue_db, claimer, "SELECT id, estimated_bytes FROM public.get_queue_batch_v2('a', 3)", writer.commit)
    finally:
        writer.close()
        claimer.close()
    assert not errors, errors
    assert len(claimed) == 3
    after = queue_db.scalar("SELECT reserved_total FROM public.api_quota_state_v2")
    assert after == before + 5000 + sum(b for _, b in claimed)



def test_a_claim_that_waits_for_another_claims_reservation_counts_it(queue_db):
    # Within the minute a claim checks and reserves its bytes in one update of the quota row.
    # Here another claim has reserved (uncommitted) when it comes: it waits for the row, and
    # must then count that reservation, not the one its snapshot saw.
    estimate = queue_db.scalar("SELECT estimated_bytes FROM public.data_type_registry_v2 WHERE data_type = 'quote'")
    configure(queue_db, calls_per_window=1_000_000, bytes_per_window=estimate * 3 + estimate // 2,
              estimate_sample_rate=0)
    enqueue(queue_db, 6)
    queue_db.execute("UPDATE public.api_quota_state_v2 SET window_from = date_trunc('minute', now()) - interval '30 days', "
                     "cached_until = date_trunc('minute', now()) - interval '1 minute'")
    first = psycopg.connect(queue_db.url)
    second = psycopg.connect(queue_db.url, autocommit=True)
    try:
        assert len(first.execute("SELECT id FROM public.get_queue_batch_v2('a', 2)").fetchall()) == 2
        claimed, errors = _run_until_blocked_then_release(
            queue_db, second, "SELECT id FROM public.get_queue_batch_v2('b', 2)", first.commit)
    finally:
        first.close()
        second.close()
    assert not errors, errors
    assert len(claimed) == 1
    assert queue_db.scalar("SELECT (public.get_quota_status_v2() ->> 'bytes_used')::bigint") == estimate * 3

def test_row_moved_between_partitions_under_a_concurrent_locker(queue_db):
    unlimited(queue_db)
    job = queue_db.scalar("SELECT job_id FROM public.queue_refresh_if_not_exists_v2('AAPL', 'quote', 1)")
    claimer = psycopg.connect(queue_db.url)
    enqueuer = psycopg.connect(queue_db.url, autocommit=True)
    try:
        assert claimer.execute("SELECT id FROM public.get_queue_batch_v2('a', 1)").fetchone()[0] == job
        # claimer.commit: the row leaves the pending partition under the waiting locker.
        result, errors = _run_until_blocked_then_release(
            queue_db, enqueuer, "SELECT job_id, outcome FROM public.queue_refresh_if_not_exists_v2('AAPL', 'quote', 99)",
            claimer.commit)
    finally:
        claimer.close()
        enqueuer.close()
    assert not errors, errors
    assert result == [(job, "exists")]
    assert queue_db.rows("SELECT id, status FROM public.api_call_queue_v2") == [(job, "processing")]


def test_a_status_outside_the_four_partitions_is_refused(queue_db):
    enqueue(queue_db, 1)
    with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
        queue_db.execute("UPDATE public.api_call_queue_v2 SET status = 'done'")
    with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
        queue_db.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, status) VALUES ('X', 'quote', 'bogus')")
    assert queue_db.rows("SELECT status FROM public.api_call_queue_v2") == [("pending",)]


@pytest.mark.parametrize("mover", ["direct update", "another claim"])
def test_claim_under_a_stale_snapshot_returns_no_error(queue_db, mover):
    unlimited(queue_db)
    enqueue(queue_db, 1)
    job = queue_db.scalar("SELECT id FROM public.api_call_queue_v2")
    stale = psycopg.connect(queue_db.url)
    try:
        stale.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        stale.execute("SELECT count(*) FROM public.api_call_queue_v2_pending")  # the snapshot sees the job pending
        if mover == "direct update":
            # Moves the row to another partition without touching the budget: the stale claim
            # locks a row that moved, meets 40001 inside, and absorbs it.
            queue_db.execute("UPDATE public.api_call_queue_v2 SET status = 'failed', finished_at = now() WHERE id = %s", [job])
        else:
            assert queue_db.scalar("SELECT id FROM public.get_queue_batch_v2('fresh', 1)") == job
        assert stale.execute("SELECT id FROM public.get_queue_batch_v2('stale', 1)").fetchall() == []
        stale.commit()
    finally:
        stale.close()
    expected = ("failed", None, 0) if mover == "direct update" else ("processing", "fresh", 1)
    assert queue_db.rows("SELECT status, worker_id, attempts FROM public.api_call_queue_v2") == [expected]


def test_backoff_timeline_then_failed_after_max_attempts(queue_db):
    unlimited(queue_db)
    configure(queue_db, backoff_base_seconds=10, backoff_max_seconds=25, max_attempts=4)
    job = queue_db.scalar("SELECT job_id FROM public.queue_refresh_if_not_exists_v2('MSFT', 'quote', 1)")
    delays = []
    for attempt in range(1, 5):
        queue_db.execute("UPDATE public.api_call_queue_v2 SET scheduled_for = now() WHERE id = %s", [job])
        attempts, lease = queue_db.rows("SELECT attempts, lease FROM public.get_queue_batch_v2('w', 1)")[0]
        assert attempts == attempt
        with queue_db.connect(autocommit=True) as conn:
            assert permits(conn, [(job, lease, 1)]) == {job: (True, None)}
        outcome = queue_db.scalar("SELECT public.fail_queue_job_v2(%s, %s, 'HTTP 429', true, 120)", [job, lease])
        if attempt < 4:
            assert outcome == "retrying"
            delays.append(queue_db.scalar(
                "SELECT extract(epoch FROM scheduled_for - clock_timestamp()) FROM public.api_call_queue_v2 WHERE id = %s", [job]))
        else:
            assert outcome == "failed"
    # Equal jitter around 10, 20, then the 25 s cap: between half and all of each.
    for delay, full in zip(delays, (10, 20, 25)):
        assert full / 2 - 0.5 <= delay <= full + 0.5, delays
    row = queue_db.rows("SELECT status, attempts, last_error, actual_bytes FROM public.api_call_queue_v2 WHERE id = %s", [job])
    assert row == [("failed", 4, "HTTP 429", 120)]
    usage = queue_db.rows("SELECT sum(calls), sum(errors), sum(failed_jobs), sum(bytes) FROM public.api_data_usage_v2")
    assert usage == [(4, 4, 1, 480)]


def test_permanent_error_fails_at_once_and_reset_keeps_the_attempt(queue_db):
    unlimited(queue_db)
    a = queue_db.scalar("SELECT job_id FROM public.queue_refresh_if_not_exists_v2('AAA', 'quote', 1)")
    b = queue_db.scalar("SELECT job_id FROM public.queue_refresh_if_not_exists_v2('BBB', 'quote', 0)")
    lease = dict(queue_db.rows("SELECT id, lease FROM public.get_queue_batch_v2('w', 2)"))
    assert queue_db.scalar("SELECT public.fail_queue_job_v2(%s, %s, 'HTTP 404: unknown symbol', false, 50)",
                           [a, lease[a]]) == "failed"
    assert queue_db.scalar("SELECT public.reset_job_immediate_v2(%s, %s, 'deadlock detected', 900)", [b, lease[b]]) is True
    # Not processing now: refused.
    assert queue_db.scalar("SELECT public.reset_job_immediate_v2(%s, %s, 'again', 0)", [b, lease[b]]) is False
    assert queue_db.rows("SELECT status, attempts FROM public.api_call_queue_v2 WHERE id = %s", [b]) == [("pending", 0)]


def _claim_two_quotes_and_a_first_statement(db, sample_rate: float) -> dict[int, tuple[str, int]]:
    """Claims two quote jobs and one financial-statements job, a type with no size estimate yet;
    id -> (data type, lease)."""
    unlimited(db)
    configure(db, estimate_sample_rate=sample_rate)
    db.execute("UPDATE public.data_type_registry_v2 SET estimated_bytes = 0 WHERE data_type = 'financial-statements'")
    enqueue(db, 2, "quote", "Q")
    enqueue(db, 1, "financial-statements", "F")
    return {r[0]: (r[1], r[2]) for r in db.rows("SELECT id, data_type, lease FROM public.get_queue_batch_v2('w', 10)")}


def _learned(db) -> dict[str, tuple[int, int | None]]:
    return {r[0]: (r[1], r[2]) for r in db.rows(
        "SELECT data_type, estimated_bytes, learned_bytes FROM public.data_type_registry_v2 "
        "WHERE data_type IN ('quote', 'financial-statements')")}


def test_completion_accounts_bytes_and_learns_estimates_apart_from_the_configured_ones(queue_db):
    jobs = _claim_two_quotes_and_a_first_statement(queue_db, sample_rate=1.0)
    ids = sorted(jobs)
    leases = [jobs[i][1] for i in ids]
    with queue_db.connect(autocommit=True) as conn:  # the calls, as the processor makes them
        assert all(g for g, _ in permits(conn, [(i, jobs[i][1], 3 if jobs[i][0] != "quote" else 1)
                                                for i in ids]).values())
    sizes = [2000 if jobs[i][0] == "quote" else 150_000 for i in ids]
    done = queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)", [ids, leases, sizes])
    assert sorted(r[0] for r in done) == ids
    assert queue_db.rows("SELECT sum(calls), sum(bytes), sum(completed_jobs) FROM public.api_data_usage_v2") == [
        (2 + 3, 2 * 2000 + 150_000, 3)]
    # What traffic teaches goes to learned_bytes; estimated_bytes stays what phases.yaml says.
    assert _learned(queue_db) == {"quote": (1200, round(1200 * 0.8 + 2000 * 0.2)),
                                  "financial-statements": (0, 150_000)}
    assert queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)", [ids, leases, sizes]) == []


def test_an_id_given_twice_completes_once_with_its_first_byte_count(queue_db):
    jobs = _claim_two_quotes_and_a_first_statement(queue_db, sample_rate=0.0)
    a, b = sorted(i for i, (t, _) in jobs.items() if t == "quote")
    f = next(i for i, (t, _) in jobs.items() if t == "financial-statements")
    lease = {i: jobs[i][1] for i in jobs}
    done = queue_db.rows("SELECT * FROM public.complete_queue_jobs_v2(%s, %s, %s)",
                         [[a, b, a, f], [lease[a], lease[b], lease[a], lease[f]], [100, 200, 999, 150_000]])
    assert sorted(r[0] for r in done) == sorted([a, b, f])
    assert queue_db.rows("SELECT id, actual_bytes FROM public.api_call_queue_v2_completed ORDER BY id") == sorted(
        [(a, 100), (b, 200), (f, 150_000)])
    assert queue_db.rows("SELECT sum(bytes), sum(completed_jobs) FROM public.api_data_usage_v2") == [(150_300, 3)]
    # With sampling off, only a type's first sample moves its (learned) estimate.
    assert _learned(queue_db) == {"quote": (1200, None), "financial-statements": (0, 150_000)}


def test_circuit_breaker_transitions(queue_db):
    configure(queue_db, breaker_failure_threshold=3, breaker_open_seconds=1)
    unlimited(queue_db)
    enqueue(queue_db, 1)
    state = lambda: queue_db.scalar("SELECT breaker_state FROM public.processor_state_v2")  # noqa: E731
    invoke = lambda: queue_db.scalar("SELECT public.invoke_processor_loop_v2()")  # noqa: E731
    fail = lambda: queue_db.scalar("SELECT public.record_processor_result_v2(false, 'HTTP 503', 0, 0)")  # noqa: E731

    assert invoke()["action"] == "external"  # closed, no pg_net here: the ticker must call
    assert [fail(), fail()] == ["closed", "closed"]
    assert fail() == "open"
    assert invoke()["reason"] == "circuit breaker open"
    time.sleep(1.1)
    probe = invoke()
    assert probe["action"] == "external" and probe["probe"] is True and state() == "half_open"
    assert invoke()["reason"] == "waiting for the half-open probe"
    assert fail() == "open"
    time.sleep(1.1)
    assert invoke()["probe"] is True
    assert queue_db.scalar("SELECT public.record_processor_result_v2(true, NULL, 3, 0)") == "closed"
    assert invoke()["action"] == "external"
    events = queue_db.rows("SELECT event, details ->> 'reason' FROM public.ops_events "
                           "WHERE event LIKE 'circuit breaker%%' ORDER BY id")
    assert [e for e, _ in events] == ["circuit breaker opened", "circuit breaker half-open", "circuit breaker opened",
                                      "circuit breaker half-open", "circuit breaker closed"]
    assert "3 failed runs in a row" in events[0][1] and "probe failed" in events[2][1]
    assert "probe succeeded" in events[4][1]


def test_processor_loop_is_single_flight_and_idle_without_work(queue_db):
    # A continuous run is started with nothing due (it waits for jobs); a run "once" is not.
    assert queue_db.scalar("SELECT public.invoke_processor_loop_v2()")["action"] == "external"
    configure(queue_db, processor_drain="once")
    assert queue_db.scalar("SELECT public.invoke_processor_loop_v2()")["action"] == "idle"
    holder = psycopg.connect(queue_db.url)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(44)")
        assert "advisory lock 44" in queue_db.scalar("SELECT public.invoke_processor_loop_v2()")["reason"]
    finally:
        holder.close()


def test_a_spent_call_budget_holds_back_a_run_once_but_not_a_continuous_one(queue_db):
    # A continuous run takes calls as the window frees them; a run "once" would claim nothing.
    invoke = lambda: queue_db.scalar("SELECT public.invoke_processor_loop_v2()")  # noqa: E731
    spend_calls = ("UPDATE public.api_quota_state_v2 "
                   "SET call_ring = ARRAY[cardinality(call_ring) - 1] || array_fill(1, ARRAY[cardinality(call_ring) - 1]), "
                   "ring_epoch = floor(extract(epoch FROM clock_timestamp()) * 1000 / ring_slot_ms)::bigint")
    enqueue(queue_db, 5)
    configure(queue_db, calls_per_window=3, bytes_per_window=1000)
    queue_db.execute(spend_calls)
    assert queue_db.scalar("SELECT public.get_quota_status_v2() ->> 'calls_left'") == "0"
    assert invoke()["action"] == "external"
    configure(queue_db, processor_drain="once")
    queue_db.execute(spend_calls)
    assert invoke()["reason"] == "quota exhausted"
    # A spent byte budget holds back both (its window frees little in a run's time).
    configure(queue_db, processor_drain="continuous")
    queue_db.execute("UPDATE public.api_quota_state_v2 SET reserved_total = 1000")
    assert invoke()["reason"] == "quota exhausted"


def test_maintenance_is_bounded_per_call(queue_db):
    configure(queue_db, maintenance_batch_size=100, completed_retention_hours=24)
    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at) "
        "SELECT 'OLD' || g, 'quote', 'completed', now() - interval '10 days' FROM generate_series(1, 250) g")
    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at) "
        "SELECT 'NEW' || g, 'quote', 'completed', now() FROM generate_series(1, 5) g")
    results = [queue_db.scalar("SELECT public.maintain_queue_partitions_v2()") for _ in range(3)]
    assert [r["completed_deleted"] for r in results] == [100, 100, 50]
    assert [r["more"] for r in results] == [True, True, False]
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2_completed") == 5


def test_retry_failed_and_purge(queue_db):
    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, attempts, finished_at, last_error) "
        "SELECT 'F' || g, 'quote', 'failed', 5, now() - interval '2 days', 'HTTP 500' FROM generate_series(1, 3) g")
    queue_db.execute("SELECT public.queue_refresh_if_not_exists_v2('F1', 'quote', 0)")  # F1 already live again
    assert queue_db.scalar("SELECT public.retry_failed_jobs_v2(NULL, 10)") == 2
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2_pending") == 3
    assert queue_db.scalar("SELECT public.purge_queue_history_v2(interval '1 day', 10)") == 1


QUEUE_FUNCTIONS = """
SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname <> 'is_feature_enabled' AND p.prokind = 'f'
"""


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_cannot_execute_any_queue_function(queue_db, role):
    functions = [r[0] for r in queue_db.rows(QUEUE_FUNCTIONS)]
    assert len(functions) >= 20
    callable_ = [f for f in functions if queue_db.scalar("SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, f])]
    assert callable_ == []
    views = ["public.queue_metrics_v2", "public.queue_depth_v2", "public.api_data_usage_v2", "public.queue_config_v2"]
    assert [v for v in views if queue_db.scalar("SELECT has_table_privilege(%s, %s, 'SELECT')", [role, v])] == []


def test_queue_functions_are_security_definer_with_search_path(queue_db):
    rows = queue_db.rows(
        "SELECT p.proname, p.prosecdef, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname LIKE '%%\\_v2' ESCAPE '\\'")
    names = {r[0] for r in rows}
    assert {"get_queue_batch_v2", "complete_queue_job_v2", "fail_queue_job_v2", "reset_job_immediate_v2",
            "recover_stuck_jobs_v2", "queue_refresh_if_not_exists_v2", "invoke_processor_loop_v2",
            "maintain_queue_partitions_v2", "is_quota_exceeded_v2"} <= names
    for name, secdef, config in rows:
        pinned = bool(config) and any(c.startswith("search_path=") for c in config)
        # One exception: the quota arithmetic the claim inlines into its own statement (a SET
        # clause would prevent that); it runs with the invoker's rights and qualifies every name.
        assert pinned or (name == "quota_window_bytes_v2" and not secdef), name
        if name.startswith(("get_queue", "complete_queue", "fail_queue", "reset_job", "recover_stuck",
                            "queue_refresh", "invoke_processor", "maintain_queue", "is_quota", "retry_failed", "purge_queue")):
            assert secdef, name


def test_metrics_read_no_completed_history_scan(queue_db):
    queue_db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at) "
        "SELECT 'H' || g, 'quote', 'completed', now() - (g || ' seconds')::interval FROM generate_series(1, 200000) g")
    queue_db.execute("ANALYZE public.api_call_queue_v2_completed")
    plan = "\n".join(r[0] for r in queue_db.rows("EXPLAIN SELECT * FROM public.queue_metrics_v2"))
    assert "Seq Scan on api_call_queue_v2_completed" not in plan, plan
    metrics = queue_db.rows("SELECT pending, jobs_per_minute FROM public.queue_metrics_v2")
    assert metrics[0][0] == 0 and float(metrics[0][1]) == pytest.approx(900 / 15, abs=1)


def test_bulk_enqueue_reports_each_pair_once(queue_db):
    unlimited(queue_db)
    queue_db.execute("SELECT public.queue_refresh_if_not_exists_v2('LIVE', 'quote', 1)")
    queue_db.execute("SELECT public.queue_refresh_if_not_exists_v2('BUSY', 'quote', 9)")
    queue_db.rows("SELECT id FROM public.get_queue_batch_v2('w', 1)")  # BUSY moves to processing
    rows = queue_db.rows(
        "SELECT symbol, data_type, outcome FROM public.queue_refreshes_v2(%s, %s, %s) ORDER BY 1, 2",
        [["LIVE", "BUSY", "NEW", "NEW", "LIVE"], ["quote", "quote", "quote", "profile", "quote"], [5, 1, 0, 0, 2]])
    assert rows == [("BUSY", "quote", "exists"), ("LIVE", "quote", "raised"),
                    ("NEW", "profile", "queued"), ("NEW", "quote", "queued")]
    assert queue_db.scalar("SELECT priority FROM public.api_call_queue_v2 WHERE symbol = 'LIVE'") == 5
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 4


def test_in_flight_estimates_are_reserved_and_released(queue_db):
    unlimited(queue_db)
    configure(queue_db, stuck_timeout_seconds=1)
    estimate = queue_db.scalar("SELECT estimated_bytes FROM public.data_type_registry_v2 WHERE data_type = 'quote'")
    enqueue(queue_db, 6)
    used = lambda: queue_db.scalar("SELECT (public.get_quota_status_v2() ->> 'bytes_used')::bigint")  # noqa: E731
    claimed = queue_db.rows("SELECT id, lease FROM public.get_queue_batch_v2('w', 6)")
    ids, lease = [r[0] for r in claimed], claimed[0][1]
    assert used() == 6 * estimate
    queue_db.rows("SELECT public.complete_queue_jobs_v2(%s, %s, %s)", [ids[:2], [lease] * 2, [500, 700]])
    assert used() == 4 * estimate + 1200  # two estimates replaced by what was really sent
    queue_db.scalar("SELECT public.fail_queue_job_v2(%s, %s, 'HTTP 503', true, 90)", [ids[2], lease])
    queue_db.scalar("SELECT public.reset_job_immediate_v2(%s, %s, 'deadlock', 10)", [ids[3], lease])
    assert used() == 2 * estimate + 1200 + 90 + 10
    time.sleep(1.2)
    assert queue_db.scalar("SELECT public.recover_stuck_jobs_v2()") == 2
    assert used() == 1300
    # A job moved by hand leaves its reservation behind until maintenance re-bases it.
    again = queue_db.scalar("SELECT id FROM public.get_queue_batch_v2('w', 1)")
    queue_db.execute("DELETE FROM public.api_call_queue_v2 WHERE id = %s", [again])
    assert used() == 1300 + estimate
    queue_db.scalar("SELECT public.maintain_queue_partitions_v2()")
    assert used() == 1300
