"""The track call against its floor: track_subscription_v2 calls/s with 4 connections.

Every viewer's page calls track-subscription about once a minute (the heartbeat), which makes
one call of track_subscription_v2. The floor is the same work as plain SQL in one prepared
statement, one round trip: the rate-limit upsert, the subscription upsert, and one set-based
staleness query of the same data types (nothing queued). 10,000 users over 2,000 symbols,
each call from a random user for that user's symbol.

  fresh:     every row within its TTL, so nothing is queued;
  10% stale: a tenth of the (symbol, type) pairs are past their TTL (their jobs are queued by
             the first call that sees them, and found queued by the calls after it).

Goals: ours at least 0.5x the floor, and at least 1,700 calls/s here (100,000 viewers
re-tracking once a minute).

Run by hand: .venv/bin/python bench/track_rate.py [--seconds 10] [--rounds 3] [--types quote,profile]
Creates a throwaway cluster on a free port (phases 0-3 applied, pg_cron's jobs paused, every
flag on) and removes it afterwards. Each client is a process of its own with one autocommit
connection (so the figures are not the GIL's); within a round the floor and both cases of ours
run back to back, so the ratios are paired.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from _stack import EXTRA_KEY_COLUMNS  # noqa: E402
from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402
from toolkit.engine import Engine  # noqa: E402

USERS = 10_000
SYMBOLS = 2_000
CLIENTS = 4


def symbol(i: int) -> str:
    return f"T{i:05d}"


def user(i: int) -> str:
    return str(uuid.UUID(int=(0x7AC0 << 112) | i))


def floor_statement(registry: list[tuple]) -> sql.Composed:
    """The floor for the requested types: one statement, its staleness part set-based."""
    checks = []
    for data_type, table, key, ts, ttl in registry:
        where = sql.SQL(" WHERE t.{} = %(symbol)s").format(sql.Identifier(key)) if key else sql.SQL("")
        checks.append(sql.SQL("({}, (SELECT max(t.{}) FROM public.{} AS t{}), {})").format(
            sql.Literal(data_type), sql.Identifier(ts), sql.Identifier(table), where, sql.Literal(ttl)))
    return sql.SQL("""
        WITH rl AS (
            INSERT INTO public.subscription_rate_limits_v2 AS l (user_id, window_start, calls)
            VALUES (%(user)s, date_trunc('minute', now()), 1)
            ON CONFLICT (user_id) DO UPDATE
            SET calls = CASE WHEN l.window_start = excluded.window_start THEN l.calls + 1 ELSE 1 END,
                window_start = excluded.window_start
            RETURNING l.calls
        ), sub AS (
            INSERT INTO public.active_subscriptions_v2 AS s (user_id, symbol, data_types, last_seen)
            VALUES (%(user)s, %(symbol)s, %(types)s, now())
            ON CONFLICT (user_id, symbol) DO UPDATE SET data_types = excluded.data_types, last_seen = excluded.last_seen
            RETURNING 1
        )
        SELECT (SELECT calls FROM rl), (SELECT count(*) FROM sub),
               ARRAY(SELECT v.t FROM (VALUES {}) AS v(t, at, ttl)
                     WHERE v.at IS NULL OR v.at < now() - make_interval(secs => v.ttl))
    """).format(sql.SQL(", ").join(checks))


def client(url: str, statement: str, types: list[str], seconds: float, seed: int, barrier, out) -> None:
    rng = random.Random(seed)
    users = [user(i) for i in range(USERS)]
    calls = errors = 0
    with psycopg.connect(url, autocommit=True, prepare_threshold=0) as conn:
        barrier.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            i = rng.randrange(USERS)
            params = {"user": users[i], "symbol": symbol(i % SYMBOLS), "types": types}
            try:
                row = conn.execute(statement, params).fetchone()
            except psycopg.Error:
                errors += 1
                continue
            if statement.startswith("SELECT public.track") and row[0].get("status") != "tracked":
                errors += 1
            calls += 1
    out.put((calls, errors))


def measure(url: str, statement: str, types: list[str], seconds: float, seed: int) -> tuple[float, int]:
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(CLIENTS), ctx.Queue()
    procs = [ctx.Process(target=client, args=(url, statement, types, seconds, seed * 100 + k, barrier, out))
             for k in range(CLIENTS)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(c for c, _ in results) / seconds, sum(e for _, e in results)


def seed(conn: psycopg.Connection, registry: list[tuple]) -> None:
    conn.execute("UPDATE public.feature_flags SET enabled = true")
    conn.execute("UPDATE public.queue_config_v2 SET calls_per_window = 2000000000, bytes_per_window = 1000000000000000")
    conn.execute("CREATE TABLE public.bench_symbols AS SELECT 'T' || lpad((g - 1)::text, 5, '0') AS symbol "
                 "FROM generate_series(1, %s) g", [SYMBOLS])
    for data_type, table, key, ts, ttl in registry:
        if key is None:
            continue
        cols, vals = EXTRA_KEY_COLUMNS.get(table, ("", ""))
        conn.execute(sql.SQL("INSERT INTO public.{} (symbol{}, {}) SELECT s.symbol{}, now() FROM public.bench_symbols AS s "
                             "ON CONFLICT DO NOTHING").format(
            sql.Identifier(table), sql.SQL(", " + cols if cols else ""), sql.Identifier(ts),
            sql.SQL(", " + vals if vals else "")))
    # Steady state: every user already tracks its symbol (re-tracking is the heartbeat).
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types, last_seen) "
                        "VALUES (%s, %s, %s, now()) ON CONFLICT DO NOTHING",
                        [(user(i), symbol(i % SYMBOLS), [r[0] for r in registry]) for i in range(USERS)])
    conn.execute("VACUUM ANALYZE")


def set_freshness(conn: psycopg.Connection, registry: list[tuple], stale_share: float) -> None:
    """Every row fresh now, except a deterministic share of (symbol, type) pairs made stale."""
    conn.execute("TRUNCATE public.api_call_queue_v2, public.subscription_rate_limits_v2")
    for data_type, table, key, ts, ttl in registry:
        if key is None:
            conn.execute(sql.SQL("UPDATE public.{} SET {} = now()").format(sql.Identifier(table), sql.Identifier(ts)))
            continue
        conn.execute(sql.SQL(
            "UPDATE public.{t} SET {ts} = CASE WHEN (abs(hashtext({k} || %s)) %% 1000) < %s "
            "THEN now() - make_interval(secs => %s * 2) ELSE now() END").format(
            t=sql.Identifier(table), ts=sql.Identifier(ts), k=sql.Identifier(key)),
            [data_type, int(stale_share * 1000), ttl])
    conn.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--types", default="quote,profile", help="the data types every call asks for")
    parser.add_argument("--stale", type=float, default=0.1, help="share of (symbol, type) pairs stale in the second case")
    args = parser.parse_args()
    types = [t for t in args.types.split(",") if t]
    loaded = load_plan(ROOT / "phases.yaml")
    rows: dict[str, list[float]] = {"floor": [], "fresh": [], "stale": []}
    errors: dict[str, int] = {k: 0 for k in rows}
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        cluster.up(bootstrap_example=ROOT / "examples" / "legacy_app")
        try:
            url = cluster.conninfo()
            Engine(loaded, target_from_url(url), "bench").apply([0, 1, 2, 3])
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job")  # nothing else moves
                registry = conn.execute(
                    "SELECT data_type, target_table, key_column, timestamp_column, ttl_seconds "
                    "FROM public.data_type_registry_v2 WHERE data_type = ANY(%s) ORDER BY data_type", [types]).fetchall()
                if len(registry) != len(types):
                    parser.error(f"unknown data type among {types}")
                seed(conn, registry)
                floor = floor_statement(registry).as_string(conn)
            ours = "SELECT public.track_subscription_v2(%(user)s::uuid, %(symbol)s, %(types)s)"
            print(f"track_subscription_v2 vs the floor: {CLIENTS} client processes x 1 connection, {USERS:,} users over "
                  f"{SYMBOLS:,} symbols, types {types}, {args.seconds:g} s per case, {args.rounds} round(s); "
                  f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
            for rnd in range(args.rounds):
                cases = [("floor", floor, 0.0), ("fresh", ours, 0.0), ("stale", ours, args.stale)]
                for name, statement, stale in (cases if rnd % 2 == 0 else cases[::-1]):
                    with psycopg.connect(url, autocommit=True) as conn:
                        set_freshness(conn, registry, stale)
                    measure(url, statement, types, 1.0, 999)  # warm the connections' caches
                    with psycopg.connect(url, autocommit=True) as conn:
                        set_freshness(conn, registry, stale)
                        stale_pairs = conn.execute("SELECT count(*) FROM public.api_call_queue_v2").fetchone()[0]
                    rate, errs = measure(url, statement, types, args.seconds, rnd)
                    with psycopg.connect(url, autocommit=True) as conn:
                        queued = conn.execute("SELECT count(*) FROM public.api_call_queue_v2").fetchone()[0]
                    rows[name].append(rate)
                    errors[name] += errs
                    print(f"  round {rnd + 1} {name:<6} {rate:>8,.0f} calls/s  errors {errs}  jobs queued {queued}"
                          f"  (load {os.getloadavg()[0]:.2f})", flush=True)
                    assert stale_pairs == 0
        finally:
            cluster.destroy()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print()
    print(f"{'case':<28} {'calls/s (median)':>17} {'min-max':>16} {'x floor':>8}")
    labels = {"floor": "floor (plain SQL)", "fresh": "ours, data fresh", "stale": f"ours, {args.stale:.0%} stale"}
    for k in ("floor", "fresh", "stale"):
        print(f"{labels[k]:<28} {med[k]:>17,.0f} {min(rows[k]):>7,.0f}-{max(rows[k]):<8,.0f} {med[k] / med['floor']:>8.2f}")
    for k in ("fresh", "stale"):
        paired = sorted(o / f for o, f in zip(rows[k], rows["floor"]))
        print(f"paired ratio {k}: median {paired[(len(paired) - 1) // 2]:.2f} (min {paired[0]:.2f}, max {paired[-1]:.2f}); "
              f"goal >= 0.50: {'ok' if med[k] / med['floor'] >= 0.5 else 'MISSED'}; "
              f">= 1,700 calls/s: {'ok' if med[k] >= 1700 else 'MISSED'}")
    print(f"errors (any status but tracked, or a database error): {errors}")


if __name__ == "__main__":
    main()
