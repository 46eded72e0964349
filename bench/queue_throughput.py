"""Queue throughput: our claim/complete functions against pgmq and procrastinate, same cluster.

Run by hand: .venv/bin/python bench/queue_throughput.py [--jobs N] [--workers 1,4,8] [--batch 1,10,100]
                                                        [--repeat 3] [--systems ours,pgmq,procrastinate]
             .venv/bin/python bench/queue_throughput.py --quick      (N=5000, W 1,4, B 1,10)

Needs the PyPI packages `pgmq` and `procrastinate` in the venv, only for the SQL they bundle
(pgmq/sql/pgmq.sql, procrastinate/sql/schema.sql). Creates a throwaway cluster in a temporary
folder on a free port and removes it afterwards, also on an error or Ctrl-C. Its commits are
synchronous, as on a Supabase project; fsync and full-page writes are off (the VM's disk is
not what is measured).

Method, for each system: one template database is set up and filled with N jobs (VACUUM
ANALYZE, so every clone starts with the same statistics and visibility map); each cell of the
matrix runs on a fresh `CREATE DATABASE ... TEMPLATE` clone, checkpointed before the run and
dropped afterwards, so neither enqueueing nor writing out the clone is measured. W Python
threads, each with its own autocommit psycopg connection (ids travel in binary), wait on one
barrier; the clock runs from the barrier to the last completion. A worker loops claim(B) then
finish(ids) until a claim comes back empty and nothing claimable is left. With --repeat R the
systems run back to back in each of R rounds (in reverse order every other round); the ratio
table gives the ratio of the median runs and the median of the R per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import psycopg
from psycopg.types.numeric import Int8BinaryDumper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.engine import Engine  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402

ENQUEUE_CHUNK = 5000




# -- adapters: one per system -----------------------------------------------------------------

class Ours:
    """phases 0..2 of this project: get_queue_batch_v2 + complete_queue_jobs_v2."""

    name = "ours"
    tables = ["api_call_queue_v2_pending", "api_call_queue_v2_processing", "api_call_queue_v2_completed",
              "api_quota_state_v2", "api_data_usage_v2", "data_type_registry_v2"]
    note = "priority order (g % 10), one conditional quota-row write per claim, one batch complete per claim"

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster

    def setup(self, db: str) -> None:
        self.cluster.bootstrap_database(db)
        Engine(load_plan(ROOT / "phases.yaml"), target_from_url(self.cluster.conninfo(db)), "bench").apply([0, 1, 2])

    def enqueue(self, conn, n: int) -> None:
        for lo in range(1, n + 1, ENQUEUE_CHUNK):
            conn.execute(
                "INSERT INTO public.api_call_queue_v2 (symbol, data_type, priority) "
                "SELECT 'S' || lpad(g::text, 7, '0'), 'quote', g %% 10 FROM generate_series(%s::int, %s::int) g",
                [lo, min(n, lo + ENQUEUE_CHUNK - 1)])

    def before_run(self, conn) -> None:
        # An effectively unlimited budget, and an empty ring of the length deployed (each claim
        # sums it: its cost is part of the claim's).
        conn.execute("UPDATE public.queue_config_v2 SET calls_per_window = 2000000000, "
                     "bytes_per_window = 1000000000000000")
        conn.execute("UPDATE public.api_quota_state_v2 SET call_ring = array_fill(0, ARRAY[cardinality(call_ring)])")

    def worker_conn(self, conn, worker: int) -> object:
        conn.execute("SET ROLE service_role")
        return {"name": f"bench-{worker}", "lease": {}}

    def claim(self, conn, worker, b: int) -> list[int]:
        # Every job is acknowledged under the lease its claim handed out.
        rows = conn.execute("SELECT id, lease FROM public.get_queue_batch_v2(%s, %s::int)", [worker["name"], b],
                            binary=True).fetchall()
        worker["lease"] = dict(rows)
        return [r[0] for r in rows]

    def finish(self, conn, worker, ids: list[int]) -> None:
        conn.execute("SELECT public.complete_queue_jobs_v2(%b, %b, %b)",
                     [ids, [worker["lease"][i] for i in ids], [1000] * len(ids)])

    def remaining(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM public.api_call_queue_v2_pending").fetchone()[0]

    def done(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM public.api_call_queue_v2_completed").fetchone()[0]


class Pgmq:
    """pgmq.sql (SQL-only install, loaded unchanged): read(vt 30, qty B) + archive(ids[])."""

    name = "pgmq"
    tables = ["q_bench", "a_bench"]
    note = "FIFO by msg_id (no priority), read sets vt, archive moves q -> a"

    @staticmethod
    def sql() -> str:
        return files("pgmq").joinpath("sql", "pgmq.sql").read_text(encoding="utf-8")

    @staticmethod
    def version() -> str:
        return files("pgmq").joinpath("sql", "VERSION").read_text().strip()

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster

    def setup(self, db: str) -> None:
        with psycopg.connect(self.cluster.conninfo(db), autocommit=True) as conn:
            with conn.transaction():
                conn.execute(self.sql())
                conn.execute("SELECT pgmq.create('bench')")

    def enqueue(self, conn, n: int) -> None:
        for lo in range(1, n + 1, ENQUEUE_CHUNK):
            conn.execute(
                "SELECT count(*) FROM pgmq.send_batch('bench', ARRAY(SELECT jsonb_build_object('symbol', "
                "'S' || lpad(g::text, 7, '0'), 'data_type', 'quote') FROM generate_series(%s::int, %s::int) g))",
                [lo, min(n, lo + ENQUEUE_CHUNK - 1)])

    def before_run(self, conn) -> None:
        pass

    def worker_conn(self, conn, worker: int) -> object:
        return worker

    def claim(self, conn, worker, b: int) -> list[int]:
        return [r[0] for r in conn.execute(
            "SELECT msg_id FROM pgmq.read(queue_name => 'bench', vt => 30, qty => %s::int)", [b], binary=True)]

    def finish(self, conn, worker, ids: list[int]) -> None:
        conn.execute("SELECT pgmq.archive('bench', %b)", [ids])

    def remaining(self, conn) -> int:
        # Every job is read once: unread messages are the ones nobody has claimed yet.
        return conn.execute("SELECT count(*) FROM pgmq.q_bench WHERE read_ct = 0").fetchone()[0]

    def done(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM pgmq.a_bench").fetchone()[0]


class Procrastinate:
    """procrastinate schema.sql (loaded unchanged): fetch_job_v2 x B, then finish_job_v1 x B."""

    name = "procrastinate"
    tables = ["procrastinate_jobs", "procrastinate_events", "procrastinate_workers"]
    note = "no batch fetch/finish: B > 1 is B fetch_job_v2 calls, then B finish_job_v1 calls"

    @staticmethod
    def sql() -> str:
        return files("procrastinate").joinpath("sql", "schema.sql").read_text(encoding="utf-8")

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster

    def setup(self, db: str) -> None:
        with psycopg.connect(self.cluster.conninfo(db), autocommit=True) as conn:
            with conn.transaction():
                conn.execute(self.sql())

    def enqueue(self, conn, n: int) -> None:
        for lo in range(1, n + 1, ENQUEUE_CHUNK):
            conn.execute(
                "SELECT cardinality(procrastinate_defer_jobs_v1(ARRAY(SELECT ROW('default', 'bench', g %% 10, "
                "NULL, NULL, jsonb_build_object('symbol', 'S' || lpad(g::text, 7, '0')), NULL"
                ")::procrastinate_job_to_defer_v1 FROM generate_series(%s::int, %s::int) g)))",
                [lo, min(n, lo + ENQUEUE_CHUNK - 1)])

    def before_run(self, conn) -> None:
        pass

    def worker_conn(self, conn, worker: int) -> object:
        # fetch_job_v2 records the worker id (a foreign key): register one per thread.
        return conn.execute("SELECT worker_id FROM procrastinate_register_worker_v1()").fetchone()[0]

    def claim(self, conn, worker, b: int) -> list[int]:
        ids = []
        for _ in range(b):
            job_id = conn.execute("SELECT id FROM procrastinate_fetch_job_v2(NULL, %b)", [worker],
                                  binary=True).fetchone()[0]
            if job_id is None:
                break
            ids.append(job_id)
        return ids

    def finish(self, conn, worker, ids: list[int]) -> None:
        for job_id in ids:
            conn.execute("SELECT procrastinate_finish_job_v1(%b, 'succeeded', false)", [job_id])

    def remaining(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'").fetchone()[0]

    def done(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'").fetchone()[0]


SYSTEMS = [Ours, Pgmq, Procrastinate]


# -- the shared runner --------------------------------------------------------------------------

@dataclass
class Result:
    system: str
    workers: int
    batch: int
    round: int = 0
    seconds: float = 0.0
    jobs_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    claims: int = 0
    duplicates: int = 0
    lost: int = 0
    dead: int = 0
    autovacuums: int = 0
    errors: list = field(default_factory=list)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_cell(adapter, url: str, jobs: int, workers: int, batch: int, round_: int = 0) -> Result:
    res = Result(adapter.name, workers, batch, round_)
    start = [0.0]
    barrier = threading.Barrier(workers, action=lambda: start.__setitem__(0, time.perf_counter()))
    claimed: list[list[int]] = [[] for _ in range(workers)]
    latencies: list[list[float]] = [[] for _ in range(workers)]
    last_done = [0.0] * workers
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                # Ids travel in binary, as int8 (the type of every system's ids): the client's
                # share of the machine's CPU stays small and the same for every system.
                conn.adapters.register_dumper(int, Int8BinaryDumper)
                wid = adapter.worker_conn(conn, i)
                barrier.wait()
                idle = 0
                while True:
                    t0 = time.perf_counter()
                    ids = adapter.claim(conn, wid, batch)
                    latencies[i].append(time.perf_counter() - t0)
                    if ids:
                        idle = 0
                        claimed[i].extend(ids)
                        adapter.finish(conn, wid, ids)
                        last_done[i] = time.perf_counter()
                        continue
                    # Empty: done, unless jobs are left that other claims only held for a moment.
                    if adapter.remaining(conn) == 0:
                        return
                    idle += 1
                    if idle > 1000:
                        raise RuntimeError(f"{adapter.name}: claims keep coming back empty with jobs left")
                    time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 - reported with the cell
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    all_ids = [x for ids in claimed for x in ids]
    lat = sorted(x for ls in latencies for x in ls)
    res.errors = [f"{type(e).__name__}: {e}" for e in errors]
    res.seconds = (max(last_done) - start[0]) if any(last_done) else float("nan")
    with psycopg.connect(url, autocommit=True) as conn:
        completed = adapter.done(conn)
    res.jobs_per_s = completed / res.seconds if res.seconds and res.seconds == res.seconds else 0.0
    res.p50_ms, res.p95_ms = percentile(lat, 0.50) * 1000, percentile(lat, 0.95) * 1000
    res.claims = len(lat)
    res.duplicates = len(all_ids) - len(set(all_ids))
    res.lost = jobs - completed
    return res


def dead_tuples(url: str, tables: list[str]) -> tuple[int, int]:
    """Sum of n_dead_tup (and autovacuum runs) over the system's queue tables, once the workers'
    statistics are flushed (they flush on disconnect; PG15's pg_stat_force_next_flush covers ours)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regproc('pg_stat_force_next_flush') IS NOT NULL").fetchone()[0]:
            conn.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(0.5)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT COALESCE(sum(n_dead_tup), 0), COALESCE(sum(autovacuum_count), 0) "
            "FROM pg_stat_user_tables WHERE relname = ANY(%s)", [tables]).fetchone()
        return int(row[0]), int(row[1])


# -- output ---------------------------------------------------------------------------------------

def fmt_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def median_runs(results: list[Result]) -> tuple[list[Result], dict[tuple, list[Result]]]:
    """The median run (by jobs/s) of each (system, W, B) cell, in first-run order, and all runs by cell."""
    cells: dict[tuple, list[Result]] = {}
    for r in results:
        cells.setdefault((r.system, r.workers, r.batch), []).append(r)
    medians = [sorted(runs, key=lambda r: r.jobs_per_s)[(len(runs) - 1) // 2] for runs in cells.values()]
    return medians, cells


def report(results: list[Result], workers: list[int], batches: list[int]) -> None:
    medians, cells = median_runs(results)
    runs = max(len(v) for v in cells.values())
    headers = ["system", "W", "B", "jobs/s", "runs min-max", "claim p50 ms", "claim p95 ms", "claims", "dup", "lost",
               "dead tup", "autovac", "wall s"]
    rows = []
    for r in medians:
        every = cells[(r.system, r.workers, r.batch)]
        spread = f"{min(x.jobs_per_s for x in every):,.0f}-{max(x.jobs_per_s for x in every):,.0f}"
        # Duplicates and losses of every run, not just the median one: each must be zero.
        rows.append([r.system, str(r.workers), str(r.batch), f"{r.jobs_per_s:,.0f}", spread, f"{r.p50_ms:.2f}",
                     f"{r.p95_ms:.2f}", str(r.claims), str(sum(x.duplicates for x in every)),
                     str(sum(x.lost for x in every)), str(r.dead), str(r.autovacuums), f"{r.seconds:.2f}"])
    print(f"the median of {runs} run(s) per cell; dup and lost summed over all runs")
    print(fmt_table(headers, rows, right=set(range(1, len(headers)))))
    print("note: procrastinate has no batch fetch or finish: for B > 1 its claim is B procrastinate_fetch_job_v2 "
          "calls (the latency shown is all B) and its finish B procrastinate_finish_job_v1 calls. "
          "pgmq has no priorities (FIFO by msg_id); ours and procrastinate claim by priority (g % 10).")
    errs = [(r, e) for r in results for e in r.errors]
    if errs:
        print("\nworker errors:")
        for r, e in errs:
            print(f"  {r.system} W={r.workers} B={r.batch}: {e}")

    by = {(r.system, r.workers, r.batch): r for r in medians}
    # Paired: within a round the systems ran back to back, so their ratio is little moved by
    # the machine's slower and faster spells; the median of those ratios is the steadier figure.
    per_round = {(r.system, r.workers, r.batch, r.round): r.jobs_per_s for r in results}
    print("\nratios (ours jobs/s / peer jobs/s; > 1 means ours is faster): of the medians, and the median "
          "(min-max) of the per-round ratios")
    rrows = []
    for w in workers:
        for b in batches:
            ours = by.get(("ours", w, b))
            row = [str(w), str(b)]
            for peer in ("pgmq", "procrastinate"):
                p = by.get((peer, w, b))
                row.append(f"{ours.jobs_per_s / p.jobs_per_s:.2f}" if ours and p and p.jobs_per_s else "-")
                paired = sorted(per_round[("ours", w, b, k)] / per_round[(peer, w, b, k)]
                                for k in range(len(cells.get(("ours", w, b), [])))
                                if per_round.get((peer, w, b, k)) and ("ours", w, b, k) in per_round)
                row.append(f"{paired[(len(paired) - 1) // 2]:.2f} ({paired[0]:.2f}-{paired[-1]:.2f})" if paired else "-")
            rrows.append(row)
    print(fmt_table(["W", "B", "ours/pgmq", "paired", "ours/procrastinate", "paired"], rrows, right={0, 1, 2, 3, 4, 5}))


# -- main -------------------------------------------------------------------------------------------

def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--workers", type=int_list, default=[1, 4, 8])
    parser.add_argument("--batch", type=int_list, default=[1, 10, 100])
    parser.add_argument("--systems", type=lambda t: [x for x in t.split(",") if x.strip()],
                        default=[cls.name for cls in SYSTEMS], help="comma-separated subset of: "
                        + ", ".join(cls.name for cls in SYSTEMS))
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per cell and system (the table shows the median run; default 3)")
    parser.add_argument("--quick", action="store_true", help="N=5000, W 1,4, B 1,10, one run: a smoke run")
    args = parser.parse_args()
    unknown = set(args.systems) - {cls.name for cls in SYSTEMS}
    if unknown:
        parser.error(f"unknown system(s): {', '.join(sorted(unknown))}")
    if args.quick:
        args.jobs, args.workers, args.batch, args.repeat = 5000, [1, 4], [1, 10], 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    # Ctrl-C and SIGTERM end the run through the finally that removes the cluster (SIGINT set
    # explicitly: a shell starts background jobs with it ignored).
    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    import procrastinate
    from importlib.metadata import version as dist_version

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="toolkit-qbench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        try:
            cluster.up()
            with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
                pg_version = conn.execute("SHOW server_version").fetchone()[0]
                settings = ", ".join(f"{name} {conn.execute(f'SHOW {name}').fetchone()[0]}" for name in (
                    "synchronous_commit", "fsync", "full_page_writes", "shared_buffers"))
            adapters = [cls(cluster) for cls in SYSTEMS if cls.name in args.systems]
            print(f"machine: {os.cpu_count()} CPUs (os.cpu_count), PostgreSQL {pg_version} "
                  f"(throwaway local cluster: {settings})")
            print(f"peers: pgmq {dist_version('pgmq')} (pgmq.sql {Pgmq.version()}), "
                  f"procrastinate {dist_version('procrastinate')} ({Path(procrastinate.__file__).parent / 'sql' / 'schema.sql'})")
            print(f"method: N={args.jobs} jobs per cell, W threads x 1 autocommit psycopg connection, claim B then "
                  f"finish those ids; wall time from a barrier to the last completion; every cell on a fresh "
                  f"CREATE DATABASE ... TEMPLATE clone of a pre-filled, VACUUM ANALYZEd database, checkpointed before "
                  f"the run (enqueue not timed).")
            for a in adapters:
                print(f"  {a.name}: {a.note}; dead tuples summed over {', '.join(a.tables)}")
            print("claim latency = one adapter claim() call (for procrastinate with B > 1: B fetch calls); "
                  "dup = ids handed out more than once; lost = N - jobs in the completed state; "
                  "autovac = autovacuum runs on those tables during the cell.\n", flush=True)

            for a in adapters:
                tpl = f"qb_{a.name}_tpl"
                t0 = time.perf_counter()
                cluster.create_database(tpl)
                a.setup(tpl)
                with psycopg.connect(cluster.conninfo(tpl), autocommit=True) as conn:
                    a.enqueue(conn, args.jobs)
                    conn.execute("VACUUM ANALYZE")
                print(f"  prepared {tpl} ({args.jobs} jobs) in {time.perf_counter() - t0:.1f} s", flush=True)

            for w in args.workers:
                for b in args.batch:
                    # Rounds interleave the systems, so a slow spell of the machine hits them alike;
                    # every other round runs them in reverse order, so none always goes first.
                    rounds = ((r, a) for r in range(args.repeat) for a in (adapters if r % 2 == 0 else adapters[::-1]))
                    for rnd, a in rounds:
                        db = f"qb_{a.name}_w{w}_b{b}"
                        cluster.create_database(db, template=f"qb_{a.name}_tpl")
                        url = cluster.conninfo(db)
                        try:
                            with psycopg.connect(url, autocommit=True) as conn:
                                a.before_run(conn)
                            # The clone's pages are written out now, not by a checkpoint during the run.
                            # CHECKPOINT is the cluster's maintenance, not the system measured, and
                            # needs its superuser (a hosted postgres lacks pg_checkpoint).
                            with psycopg.connect(cluster.admin_conninfo(), autocommit=True) as conn:
                                conn.execute("CHECKPOINT")
                            res = run_cell(a, url, args.jobs, w, b, rnd)
                            res.dead, res.autovacuums = dead_tuples(url, a.tables)
                        finally:
                            cluster.drop_database(db)
                        results.append(res)
                        print(f"  {a.name:<13} W={w} B={b:<3} {res.jobs_per_s:>9,.0f} jobs/s  "
                              f"dup {res.duplicates} lost {res.lost}"
                              + (f"  ERRORS: {res.errors[:1]}" if res.errors else ""), flush=True)
        finally:
            cluster.destroy()
    print()
    report(results, args.workers, args.batch)


if __name__ == "__main__":
    main()
