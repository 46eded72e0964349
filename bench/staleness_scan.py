"""The presence check against the floor: one set-based query that computes the same stale set.

For N active symbols, each viewed with all eleven data types (10 on-demand, checked by the
presence check; the scheduled one is not), about a tenth of each type's data stale:
  - floor: a single SELECT of the stale (symbol, type) pairs, nothing queued;
  - ours: check_and_queue_stale_data_from_presence_v2(), which also queues them.
Goals: ours at most 3x the floor at 10,000 symbols; ours grows at most 11x from 1,000 to 10,000.

Run by hand: .venv/bin/python bench/staleness_scan.py [--sizes 1000,10000] [--runs 5] [--stale 0.1]
Creates a throwaway cluster per size on a free port and removes it afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.engine import Engine  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402

# Rows per symbol for each per-symbol table: its key columns beyond the symbol.
EXTRA_KEYS = {
    "financial_statements": "statement_type, period, fiscal_year, data",
    "dividend_history": "ex_date",
    "revenue_segmentation": "fiscal_year, period, data",
    "grades_historical": "date",
    "exchange_variants": "variant_symbol",
}
EXTRA_VALUES = {
    "financial_statements": "'income', 'FY', 2025, '{}'::jsonb",
    "dividend_history": "date '2025-06-01'",
    "revenue_segmentation": "2025, 'FY', '{}'::jsonb",
    "grades_historical": "date '2025-06-01'",
    "exchange_variants": "s.symbol || '.X'",
}




def seed(conn: psycopg.Connection, registry: list[tuple], n: int, stale: float) -> None:
    conn.execute("UPDATE public.feature_flags SET enabled = true")
    conn.execute("UPDATE public.queue_config_v2 SET calls_per_window = 2000000000, bytes_per_window = 1000000000000000")
    conn.execute("CREATE TEMP TABLE syms AS SELECT 'B' || lpad(g::text, 6, '0') AS symbol, g FROM generate_series(1, %s) g", [n])
    for data_type, table, key, ts, ttl in registry:
        if key != "symbol":
            continue
        extra = EXTRA_KEYS.get(table)
        cols = f"symbol, {extra}, {ts}" if extra else f"symbol, {ts}"
        vals = f"s.symbol, {EXTRA_VALUES[table]}," if extra else "s.symbol,"
        # Deterministic staleness per (symbol, type): a hash decides which tenth is old.
        conn.execute(
            f"INSERT INTO public.{table} ({cols}) SELECT {vals} "
            f"CASE WHEN (abs(hashtext(s.symbol || %s)) %% 1000) < %s THEN now() - make_interval(secs => %s * 2) ELSE now() END "
            f"FROM syms s ON CONFLICT DO NOTHING",
            [data_type, int(stale * 1000), ttl])
    conn.execute("UPDATE public.available_exchanges SET updated_at = now()")
    types = [r[0] for r in registry]
    conn.execute(
        "INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types) "
        "SELECT gen_random_uuid(), s.symbol, %s FROM syms s", [types])
    conn.execute("ANALYZE")


def floor_query(registry: list[tuple]) -> str:
    parts = []
    for data_type, table, key, ts, ttl in registry:
        if key is None:
            parts.append(f"SELECT DISTINCT '*'::text, '{data_type}'::text FROM active a "
                         f"WHERE a.data_type = '{data_type}' AND "
                         f"public.is_data_stale_v2((SELECT max({ts}) FROM public.{table}), {ttl})")
        else:
            parts.append(f"SELECT a.symbol, a.data_type FROM active a LEFT JOIN LATERAL "
                         f"(SELECT max(t.{ts}) AS m FROM public.{table} t WHERE t.{key} = a.symbol) f ON true "
                         f"WHERE a.data_type = '{data_type}' AND public.is_data_stale_v2(f.m, {ttl})")
    return ("WITH active AS MATERIALIZED (SELECT DISTINCT s.symbol, t.data_type FROM public.active_subscriptions_v2 s "
            "CROSS JOIN LATERAL unnest(s.data_types) t(data_type) WHERE s.last_seen > now() - interval '120 seconds') "
            + " UNION ALL ".join(parts))


def timed(conn: psycopg.Connection, sql: str, reset: str | None, runs: int) -> tuple[float, list]:
    times, rows = [], []
    for _ in range(runs):
        if reset:
            conn.execute(reset)
        t0 = time.perf_counter()
        rows = conn.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def measure(loaded, n: int, runs: int, stale: float) -> dict:
    # Phase 3 schedules pg_cron jobs, which exist only in the cron database: each size gets a
    # cluster of its own and uses its `postgres` database, with the new jobs paused so that
    # pg_cron's own presence check cannot take lock 42 in the middle of a measurement.
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        cluster.up(bootstrap_example=ROOT / "examples" / "legacy_app")
        try:
            Engine(loaded, target_from_url(cluster.conninfo()), "bench").apply([0, 1, 2, 3])
            with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
                conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job")
                registry = conn.execute(
                    "SELECT data_type, target_table, key_column, timestamp_column, ttl_seconds "
                    "FROM public.data_type_registry_v2 WHERE refresh_strategy = 'on-demand' ORDER BY data_type").fetchall()
                seed(conn, registry, n, stale)
                floor_s, floor_rows = timed(conn, floor_query(registry), None, runs)
                ours_s, result = timed(conn, "SELECT public.check_and_queue_stale_data_from_presence_v2()",
                                       "TRUNCATE public.api_call_queue_v2", runs)
                queued = set(conn.execute("SELECT symbol, data_type FROM public.api_call_queue_v2").fetchall())
        finally:
            cluster.destroy()
    return {"n": n, "floor": floor_s, "ours": ours_s, "stale": len(floor_rows),
            "same_set": queued == set(floor_rows), "result": result[0][0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stale", type=float, default=0.1, help="share of each type's data that is stale")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    loaded = load_plan(ROOT / "phases.yaml")
    results = [measure(loaded, n, args.runs, args.stale) for n in sizes]
    print(f"presence check vs the set-based floor; {args.stale:.0%} stale; median of {args.runs} runs")
    print(f"{'symbols':>8} {'pairs':>7} {'stale':>6} {'floor ms':>9} {'ours ms':>8} {'ours/floor':>10} {'same set':>8}")
    for r in results:
        print(f"{r['n']:>8} {r['n'] * 10:>7} {r['stale']:>6} {r['floor'] * 1000:>9.1f} {r['ours'] * 1000:>8.1f} "
              f"{r['ours'] / r['floor']:>10.2f} {'yes' if r['same_set'] else 'NO':>8}")
    last = results[-1]
    verdict = "ok" if last["ours"] / last["floor"] <= 3 else "MISSED"
    print(f"\nours/floor at {last['n']} symbols: {last['ours'] / last['floor']:.2f} (goal <= 3): {verdict}")
    if len(results) > 1:
        growth = results[-1]["ours"] / results[0]["ours"]
        scale = results[-1]["n"] / results[0]["n"]
        print(f"growth {results[0]['n']} -> {results[-1]['n']} symbols: {growth:.1f}x (goal <= {scale * 1.1:.0f}x): "
              f"{'ok' if growth <= scale * 1.1 else 'MISSED'}")


if __name__ == "__main__":
    main()
