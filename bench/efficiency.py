"""The API calls the system saves, and what viewers see: the example app at 2,000 symbols.

The local stack (bench/_stack.py), its pg_cron jobs running (presence check and scheduled
refreshes each on their schedule; the legacy jobs off: the types are migrated) and the
external ticker starting the processor once a minute. 2,000 symbols in the page's tables,
their data of every age up to twice its TTL. 500 viewers, each opening a page of a symbol
chosen by a Zipf distribution (rank r with weight 1/r^s), staying an exponential dwell time
(re-tracking every 60 s while there, as the app's module does before the subscription TTL),
then opening the next, for 10 minutes. Every page open calls track-subscription as the app
does. Real TTLs and schedules (a quote lives 60 s; its legacy job ran every minute).

Figures: provider calls and bytes the new system spent (the sandbox's own count) against what
the legacy schedules would spend on the same tables in the same time (each run refetches every
row of its table: runs x rows x endpoints, bytes at the plan's estimates); and the share of page
views that saw data within its TTL within 2 s (fresh at open, or each stale type's job
completed within 2 s of the view).

Goal: at least 95% of views fresh within 2 s, at no more than 20% of the legacy schedule's calls.

The provider plan (the sandbox's limit, and the project's call budget) is by default the one the
legacy schedules need at this scale: their calls per minute, so both systems run on the same plan
and the figure is what the new system chooses to spend. --calls-per-minute sets a smaller plan
(300: the example app's Starter plan), where the budget, not the system, bounds the share.

Run by hand: .venv/bin/python bench/efficiency.py [--minutes 10] [--viewers 500] [--symbols 2000]
                                                  [--zipf 1.1] [--dwell 60] [--modes continuous,once]
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import math
import os
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from psycopg import sql

from _stack import EXTRA_KEY_COLUMNS, ROOT, stack, wait_until
from toolkit.config import load_plan
from toolkit.baseline import runs_per_day

HEARTBEAT_S = 60
FRESH_WITHIN_S = 2.0


def seed(st, types: list, n: int) -> None:
    """n symbols in each of the page's tables, each row of an age up to twice its TTL."""
    st.sql("CREATE TABLE IF NOT EXISTS public.bench_symbols AS SELECT 'E' || lpad(g::text, 5, '0') AS symbol, g "
           "FROM generate_series(1, %s) g", [n])
    for d in types:
        cols, vals = EXTRA_KEY_COLUMNS.get(d.table, ("", ""))
        st.sql(sql.SQL(
            "INSERT INTO public.{t} (symbol{c}, {ts}) SELECT s.symbol{v}, "
            "now() - make_interval(secs => %s * 2 * (abs(hashtext(s.symbol || %s)) %% 1000) / 1000.0) "
            "FROM public.bench_symbols AS s ON CONFLICT DO NOTHING").format(
            t=sql.Identifier(d.table), c=sql.SQL(", " + cols if cols else ""), ts=sql.Identifier(d.timestamp_column),
            v=sql.SQL(", " + vals if vals else "")),
            [d.ttl_seconds, d.name])
    st.sql("ANALYZE")


class Viewers:
    """500 viewers as events on one clock; track calls go through a small pool of threads."""

    def __init__(self, st, symbols: list[str], types: list[str], zipf: float, dwell: float, rng: random.Random):
        self.st, self.symbols, self.types, self.dwell, self.rng = st, symbols, types, dwell, rng
        weights = [1 / (r ** zipf) for r in range(1, len(symbols) + 1)]
        self.cum = list(itertools.accumulate(weights))
        self.opens: list[tuple[str, float, dict]] = []
        self.heartbeats = 0
        self.lock = threading.Lock()

    def pick(self) -> str:
        return self.rng.choices(self.symbols, cum_weights=self.cum)[0]

    def run(self, viewers: int, minutes: float) -> None:
        start = time.monotonic()
        end = start + minutes * 60
        events: list = []
        for v in range(viewers):  # arrivals spread over the first minute
            heapq.heappush(events, (start + self.rng.uniform(0, 60), v, "open", None))
        users = [str(uuid.uuid4()) for _ in range(viewers)]
        with ThreadPoolExecutor(16) as pool:
            while events:
                at, v, kind, page = heapq.heappop(events)
                if at >= end:
                    break
                time.sleep(max(0.0, at - time.monotonic()))
                if kind == "open":
                    symbol = self.pick()
                    leave = at + min(self.rng.expovariate(1 / self.dwell), 600)
                    pool.submit(self._open, users[v], symbol)
                    heapq.heappush(events, (leave, v, "open", None))
                    if at + HEARTBEAT_S < leave:
                        heapq.heappush(events, (at + HEARTBEAT_S, v, "beat", (symbol, leave)))
                else:
                    symbol, leave = page
                    pool.submit(self._beat, users[v], symbol)
                    if at + HEARTBEAT_S < leave:
                        heapq.heappush(events, (at + HEARTBEAT_S, v, "beat", page))

    def _open(self, user: str, symbol: str) -> None:
        at = time.time()
        answer = self.st.track(user, symbol, self.types)
        with self.lock:
            self.opens.append((symbol, at, answer))

    def _beat(self, user: str, symbol: str) -> None:
        self.st.track(user, symbol, self.types)
        with self.lock:
            self.heartbeats += 1


def judge(st, opens: list[tuple[str, float, dict]]) -> dict:
    """Views fresh at open, fresh within 2 s, later, never (or not tracked)."""
    done: dict[tuple[str, str], list[float]] = {}
    for symbol, data_type, at in st.sql("SELECT symbol, data_type, extract(epoch FROM finished_at)::float "
                                        "FROM public.api_call_queue_v2 WHERE status = 'completed'"):
        done.setdefault((symbol, data_type), []).append(at)
    for v in done.values():
        v.sort()
    counts = {"fresh_at_open": 0, "fresh_within_2s": 0, "later": 0, "never": 0, "not_tracked": 0}
    waits = []
    for symbol, at, answer in opens:
        if not answer.get("tracked"):
            counts["not_tracked"] += 1
            continue
        stale = [q["data_type"] for q in answer.get("queued", [])]
        if not stale:
            counts["fresh_at_open"] += 1
            continue
        worst = 0.0
        for data_type in stale:
            times = done.get((symbol, data_type), [])
            i = bisect.bisect_left(times, at)
            if i == len(times):
                worst = float("inf")
                break
            worst = max(worst, times[i] - at)
        waits.append(worst)
        counts["fresh_within_2s" if worst <= FRESH_WITHIN_S else "later" if worst != float("inf") else "never"] += 1
    return {**counts, "views": len(opens), "waits": waits}


def legacy_spend(types: list, symbols: int, seconds: float) -> tuple[float, float]:
    """What the legacy jobs of these types spend in `seconds`: every run refetches every row."""
    calls = bytes_ = 0.0
    for d in types:
        runs = runs_per_day(d.legacy_schedule) * seconds / 86400
        calls += runs * symbols * len(d.endpoints)
        bytes_ += runs * symbols * d.estimated_bytes
    return calls, bytes_


def run_mode(st, mode: str, types: list, args) -> dict:
    st.sql("TRUNCATE public.api_call_queue_v2, public.active_subscriptions_v2, public.subscription_rate_limits_v2")
    st.sql("DROP TABLE IF EXISTS public.bench_symbols")
    for d in types:  # every mode starts from the same ages
        st.sql(sql.SQL("DELETE FROM public.{} WHERE symbol LIKE 'E%%'").format(sql.Identifier(d.table)))
    seed(st, types, args.symbols)
    symbols = [r[0] for r in st.sql("SELECT symbol FROM public.bench_symbols ORDER BY g")]
    st.set_drain(mode)
    q = st.loaded.plan.settings.quotas
    wait_until(lambda: st.scalar("SELECT (public.get_quota_status_v2() ->> 'calls_used')::int") == 0,
               q.call_window_seconds + q.call_slack_ms / 1000 + 5, 1)
    st.sandbox.reset()
    stop = threading.Event()
    ticker = st.start_ticker(60, stop)
    started = time.monotonic()
    viewers = Viewers(st, symbols, [d.name for d in types], args.zipf, args.dwell, random.Random(args.seed))
    viewers.run(args.viewers, args.minutes)
    seconds = time.monotonic() - started
    time.sleep(5)  # the last views' jobs
    stop.set()
    ticker.join(150)
    stats = st.sandbox.stats()
    verdict = judge(st, viewers.opens)
    legacy_calls, legacy_bytes = legacy_spend(types, args.symbols, seconds)
    return {"mode": mode, "seconds": seconds, "calls": stats["calls"], "bytes": stats["bytes"],
            "provider_429": stats["rate_limited"], "legacy_calls": legacy_calls, "legacy_bytes": legacy_bytes,
            "heartbeats": viewers.heartbeats, **verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--dwell", type=float, default=60, help="mean seconds a viewer stays on a page")
    parser.add_argument("--types", default="quote,profile", help="the data types a page shows")
    parser.add_argument("--modes", default="continuous,once")
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--calls-per-minute", type=int, default=None,
                        help="the provider plan's limit and the project's call budget (default: what the legacy "
                             "schedules need at this scale)")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    by_name = {d.name: d for d in load_plan(ROOT / "phases.yaml").plan.data_types}
    types = [by_name[t] for t in args.types.split(",") if t]
    budget = args.calls_per_minute or math.ceil(legacy_spend(types, args.symbols, 60)[0])
    print(f"efficiency: {args.symbols} symbols, {args.viewers} viewers (Zipf s={args.zipf:g}, dwell {args.dwell:g} s "
          f"mean, re-track every {HEARTBEAT_S} s), page types {args.types}, {args.minutes:g} min per mode, sandbox "
          f"{args.latency_ms:g} ms per call, call budget {budget} per minute; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = []
    with stack(args.latency_ms, budget) as st:
        for mode in [m for m in args.modes.split(",") if m]:
            r = run_mode(st, mode, types, args)
            results.append(r)
            print(f"  {mode}: {r['views']} views, {r['calls']} calls (legacy {r['legacy_calls']:.0f}); "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    print()
    print(f"{'processor':<11} {'views':>6} {'fresh@open':>10} {'<=2 s':>6} {'later':>6} {'never':>6} {'untracked':>9} "
          f"{'fresh<=2s':>9} {'calls':>7} {'legacy':>8} {'calls %':>8} {'MB':>7} {'legacy MB':>9} {'429':>4}")
    for r in results:
        good = r["fresh_at_open"] + r["fresh_within_2s"]
        share = good / r["views"] if r["views"] else 0
        print(f"{r['mode']:<11} {r['views']:>6} {r['fresh_at_open']:>10} {r['fresh_within_2s']:>6} {r['later']:>6} "
              f"{r['never']:>6} {r['not_tracked']:>9} {share:>9.1%} {r['calls']:>7} {r['legacy_calls']:>8.0f} "
              f"{r['calls'] / r['legacy_calls']:>8.1%} {r['bytes'] / 1e6:>7.1f} {r['legacy_bytes'] / 1e6:>9.1f} "
              f"{r['provider_429']:>4}")
        r["share"] = share
    for r in results:
        ok = r["share"] >= 0.95 and r["calls"] <= 0.2 * r["legacy_calls"]
        print(f"{r['mode']}: {r['share']:.1%} of views fresh within 2 s (goal >= 95%), {r['calls'] / r['legacy_calls']:.1%} "
              f"of the legacy calls (goal <= 20%): {'ok' if ok else 'MISSED'}; {r['heartbeats']} heartbeats")


if __name__ == "__main__":
    main()
