"""Workers and helpers for the queue tests: real connections, real functions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg


def configure(db, **settings) -> None:
    """Change queue_config_v2 values; a new call window also resizes the quota ring (its total,
    then its slots)."""
    sets = ", ".join(f"{k} = %({k})s" for k in settings)
    with db.connect(autocommit=True) as conn:
        conn.execute(f"UPDATE public.queue_config_v2 SET {sets}", settings)
        conn.execute("UPDATE public.api_quota_state_v2 "
                     "SET call_ring = array_fill(0, ARRAY[ceil((c.call_window_seconds * 1000 + c.call_slack_ms) "
                     "                                         / ring_slot_ms::numeric)::integer + 2]) "
                     "FROM public.queue_config_v2 c")


def unlimited(db) -> None:
    configure(db, calls_per_window=1_000_000_000, call_window_seconds=60, bytes_per_window=10**15)


def enqueue(db, count: int, data_type: str = "quote", prefix: str = "S", priority_mod: int = 1) -> None:
    db.execute(
        "INSERT INTO public.api_call_queue_v2 (symbol, data_type, priority) "
        "SELECT %s || lpad(g::text, 6, '0'), %s, g %% %s FROM generate_series(1, %s) g",
        [prefix, data_type, priority_mod, count])


def permits(conn, jobs: list[tuple[int, int, int]]) -> dict[int, tuple[bool, str | None]]:
    """take_call_permits_v2 for (id, lease, calls) requests: id -> (granted, reason)."""
    rows = conn.execute("SELECT job_id, granted, reason FROM public.take_call_permits_v2(%s, %s, %s)",
                        [[j[0] for j in jobs], [j[1] for j in jobs], [j[2] for j in jobs]]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


@dataclass(eq=False)
class Worker(threading.Thread):
    """Claims and completes jobs. With `calls`, it first takes a call permit for each job and
    "calls" (records the moment, as the provider would see the call) only with one; a job
    without a permit goes back (reset_job_immediate_v2)."""

    url: str
    name_: str
    batch: int
    deadline: float = 0.0            # stop at this monotonic time (0: when the queue is empty)
    pause: float = 0.0               # sleep between claims
    bytes_for: dict = field(default_factory=dict)
    calls: list | None = None        # (monotonic time, calls) of every permitted job, when given
    claimed: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        threading.Thread.__init__(self, daemon=True)

    def run(self):
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("SET ROLE service_role")
                idle = 0
                while True:
                    if self.deadline and time.monotonic() > self.deadline:
                        return
                    rows = conn.execute(
                        "SELECT id, data_type, lease, cardinality(endpoints) FROM public.get_queue_batch_v2(%s, %s)",
                        [self.name_, self.batch]).fetchall()
                    if rows and self.calls is not None:
                        granted = permits(conn, [(r[0], r[2], r[3]) for r in rows])
                        now = time.monotonic()
                        self.calls.extend((now, r[3]) for r in rows if granted[r[0]][0])
                        for r in rows:
                            if not granted[r[0]][0]:
                                conn.execute("SELECT public.reset_job_immediate_v2(%s, %s, 'no permit', 0)", [r[0], r[2]])
                        rows = [r for r in rows if granted[r[0]][0]]
                    if rows:
                        idle = 0
                        ids = [r[0] for r in rows]
                        self.claimed.extend(ids)
                        conn.execute("SELECT public.complete_queue_jobs_v2(%s, %s, %s)",
                                     [ids, [r[2] for r in rows], [self.bytes_for.get(r[1], 1000) for r in rows]])
                    elif not self.deadline:
                        left = conn.execute("SELECT count(*) FROM public.api_call_queue_v2_pending").fetchone()[0]
                        idle += 1
                        if left == 0 or idle > 200:
                            return
                        time.sleep(0.01)
                    if self.pause:
                        time.sleep(self.pause)
        except Exception as exc:  # surfaced by the test
            self.errors.append(exc)


def run_workers(workers: list[Worker], timeout: float = 300) -> None:
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout)
    errors = [e for w in workers for e in w.errors]
    assert not errors, errors
