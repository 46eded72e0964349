"""View -> fresh: how long a viewer who opens a page with a stale quote waits for a fresh one.

The local stack (bench/_stack.py): the sandbox answering in 150 ms per call, the Edge
Functions, and the external ticker as `toolkit processor run` runs it (a tick a minute, the
pg_cron schedule). Viewers open pages at random times (Poisson) for 5 minutes; each page is a
symbol whose quote is stale, and calls track-subscription as the app does ({"symbol",
"dataTypes": ["quote", "profile"]}, the profile fresh). View -> fresh is the time from the
track call to the completion of the quote's job (the row is written just before).

  (a) continuous: the processor drains while its run lasts, waiting for new due jobs;
  (b) once:       the old behaviour, each start drains what is due and returns;
  (c) legacy:     the old pg_cron job (refresh-stock-quotes, "* * * * *"): the next run of
                  its schedule after each view, computed for the same view times.

Then, under a standing backlog (more quote jobs than the budget allows in the time), the
share of the call budget each processor uses (the provider's own count of calls in the
measured time / calls_per_window per call_window_seconds), its busiest window, and the
provider's 429s. Calls in a stretch of time depend on where the stretch falls among the
bursts the budget allows (a full window at the start, then as calls free), so the long-run
figure is also given free of that phase: with N = calls_per_window, the (i+N)-th call waits
for the i-th to leave the budget, so the mean time from each call to the N-th after it is how
long a call holds the budget, and window / that mean is the use a long run tends to.

Goals: (a) p95 at most 2 s while the budget has room; under a standing backlog, budget use at
least 0.98 with 0 provider 429s.

Run by hand: .venv/bin/python bench/freshness.py [--minutes 5] [--rate 0.5] [--modes continuous,once]
                                                 [--backlog-minutes 3] [--latency-ms 150] [--no-views]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
import uuid

from _stack import percentile, stack, wait_until

LEGACY_PERIOD_S = 60  # refresh-stock-quotes runs on "* * * * *"


def views(st, minutes: float, rate: float, rng: random.Random, prefix: str) -> list[tuple[str, float, dict]]:
    """Open pages at Poisson times for `minutes`: (symbol, view time (epoch), track answer)."""
    seen = []
    end = time.monotonic() + minutes * 60
    k = 0
    next_at = time.monotonic() + rng.expovariate(rate)
    while next_at < end:
        time.sleep(max(0.0, next_at - time.monotonic()))
        k += 1
        symbol = f"{prefix}{k:04d}"
        at = time.time()
        answer = st.track(str(uuid.uuid4()), symbol, ["quote", "profile"])
        seen.append((symbol, at, answer))
        next_at += rng.expovariate(rate)
    return seen


def seed_stale(st, prefix: str, n: int) -> None:
    """n symbols whose quote is an hour old (stale) and whose profile is fresh."""
    st.sql("INSERT INTO public.stock_quotes (symbol, price, updated_at) "
           "SELECT %s || lpad(g::text, 4, '0'), 100, now() - interval '1 hour' FROM generate_series(1, %s) g "
           "ON CONFLICT (symbol) DO UPDATE SET updated_at = excluded.updated_at", [prefix, n])
    st.sql("INSERT INTO public.company_profiles (symbol, updated_at) "
           "SELECT %s || lpad(g::text, 4, '0'), now() FROM generate_series(1, %s) g "
           "ON CONFLICT (symbol) DO UPDATE SET updated_at = now()", [prefix, n])


def fresh_after(st, seen: list[tuple[str, float, dict]]) -> tuple[list[float], int]:
    """Seconds from each view to its quote's job completing, and how many never completed."""
    done = dict(st.sql("SELECT symbol, extract(epoch FROM min(finished_at))::float FROM public.api_call_queue_v2 "
                       "WHERE status = 'completed' AND data_type = 'quote' AND symbol = ANY(%s) GROUP BY symbol",
                       [[s for s, _, _ in seen]]))
    waits = [max(0.0, done[s] - at) for s, at, _ in seen if s in done]
    return waits, len(seen) - len(waits)


def run_views(st, mode: str, minutes: float, rate: float, seed: int) -> dict:
    prefix = {"continuous": "VA", "once": "VB"}[mode]
    n = int(minutes * 60 * rate * 3) + 50
    seed_stale(st, prefix, n)
    st.set_drain(mode)
    st.sandbox.reset()
    stop = threading.Event()
    ticker = st.start_ticker(60, stop)
    time.sleep(5)  # the first tick has started the processor
    t0 = time.monotonic()
    seen = views(st, minutes, rate, random.Random(seed), prefix)
    # Let the last views be served (the once-a-minute processor needs up to a minute and more).
    wait_until(lambda: fresh_after(st, seen)[1] == 0, 130, 1)
    stop.set()
    ticker.join(150)
    waits, never = fresh_after(st, seen)
    queued = sum(1 for _, _, a in seen if any(q.get("data_type") == "quote" for q in a.get("queued", [])))
    return {"mode": mode, "views": len(seen), "queued_by_track": queued, "waits": waits, "never": never,
            "view_times": [at for _, at, _ in seen], "seconds": time.monotonic() - t0,
            "provider_429": st.sandbox.stats()["rate_limited"]}


def legacy(view_times: list[float]) -> dict:
    """The old job's next run after each view (cron minutes are whole minutes of the clock)."""
    waits = [LEGACY_PERIOD_S - (t % LEGACY_PERIOD_S) for t in view_times]
    return {"mode": "legacy", "views": len(view_times), "waits": waits, "never": 0}


def run_backlog(st, mode: str, minutes: float, jobs: int) -> dict:
    """A standing backlog: the budget, not the queue, limits the processor."""
    q = st.loaded.plan.settings.quotas
    st.sql("TRUNCATE public.api_call_queue_v2")
    st.sql("INSERT INTO public.api_call_queue_v2 (symbol, data_type, priority) "
           "SELECT 'BL' || lpad(g::text, 5, '0'), 'quote', 0 FROM generate_series(1, %s) g", [jobs])
    st.set_drain(mode)
    # A fresh budget: what earlier phases spent leaves the ring first.
    wait_until(lambda: st.scalar("SELECT (public.get_quota_status_v2() ->> 'calls_used')::int") == 0,
               q.call_window_seconds + q.call_slack_ms / 1000 + 5, 1)
    st.sandbox.reset()
    stop = threading.Event()
    started = time.monotonic()
    ticker = st.start_ticker(60, stop)
    time.sleep(minutes * 60)
    ended = time.monotonic()
    stop.set()
    ticker.join(150)
    log = st.sandbox.calls(q.call_window_seconds)
    arrived = [a for a in st.sandbox.arrivals() if started <= a < ended]
    made = len(arrived)
    n = q.calls_per_window
    # The mean over i of (t[i+N] - t[i]), as two sums: the last len-N arrivals less the first.
    hold = (sum(arrived[n:]) - sum(arrived[:-n])) / (len(arrived) - n) if len(arrived) > 2 * n else float("nan")
    allowed = q.calls_per_window * (ended - started) / q.call_window_seconds
    left = st.scalar("SELECT count(*) FROM public.api_call_queue_v2 WHERE status = 'pending'")
    return {"mode": mode, "calls": made, "allowed": allowed, "use": made / allowed, "busiest": log["busiest"],
            "hold": hold, "steady_use": q.call_window_seconds / hold,
            "provider_429": st.sandbox.stats()["rate_limited"], "seconds": ended - started, "left": left}


def summary(r: dict) -> str:
    w = r["waits"]
    if not w:
        return f"{r['mode']:<11} {r['views']:>5} {'-':>8} {'-':>8} {'-':>8} {r['never']:>6}"
    return (f"{r['mode']:<11} {r['views']:>5} {statistics.median(w):>8.2f} {percentile(w, 0.95):>8.2f} "
            f"{max(w):>8.2f} {r['never']:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5, help="how long viewers open pages, per mode")
    parser.add_argument("--rate", type=float, default=0.5, help="pages opened per second (Poisson)")
    parser.add_argument("--modes", default="continuous,once")
    parser.add_argument("--backlog-minutes", type=float, default=3, help="0: skip the standing backlog")
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--no-views", dest="views", action="store_false",
                        help="skip the viewers (a, b, c): only the standing backlog, for each of --modes")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    print(f"view -> fresh: sandbox {args.latency_ms:g} ms per call, ticker every 60 s, {args.rate:g} page(s)/s "
          f"for {args.minutes:g} min per mode; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    results, backlogs = [], []
    with stack(args.latency_ms) as st:
        for mode in modes if args.views else []:
            r = run_views(st, mode, args.minutes, args.rate, args.seed)
            results.append(r)
            print(f"  {summary(r)}  (429s {r['provider_429']}; load {os.getloadavg()[0]:.2f})", flush=True)
        if results:
            results.append(legacy(results[0]["view_times"]))
        if args.backlog_minutes > 0:
            for mode in modes:
                b = run_backlog(st, mode, args.backlog_minutes, 5000)
                backlogs.append(b)
                print(f"  backlog {mode}: {b['calls']} calls of {b['allowed']:.0f} allowed (use {b['use']:.3f}, "
                      f"long-run {b['steady_use']:.3f}), busiest window {b['busiest']}, 429s {b['provider_429']} "
                      f"(load {os.getloadavg()[0]:.2f})",
                      flush=True)
    print()
    print(f"{'processor':<11} {'views':>5} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'never':>6}")
    for r in results:
        print(summary(r))
    cont = next((r for r in results if r["mode"] == "continuous"), None)
    if cont and cont["waits"]:
        p95 = percentile(cont["waits"], 0.95)
        print(f"\n(a) continuous p95 {p95:.2f} s (goal <= 2 s): {'ok' if p95 <= 2 and not cont['never'] else 'MISSED'}")
    q = st.loaded.plan.settings.quotas
    for b in backlogs:
        ok = min(b["use"], b["steady_use"]) >= 0.98 and b["provider_429"] == 0
        print(f"backlog, {b['mode']}: {b['calls']} provider calls in {b['seconds']:.0f} s, budget "
              f"{q.calls_per_window}/{q.call_window_seconds} s -> use {b['use']:.3f}; a call holds the budget "
              f"{b['hold']:.2f} s on average -> long-run use {b['steady_use']:.3f}; busiest {q.call_window_seconds} s "
              f"window {b['busiest']}; provider 429s {b['provider_429']}; jobs left {b['left']} "
              f"(goal use >= 0.98, 0 429s: {'ok' if ok else 'MISSED'})")


if __name__ == "__main__":
    main()
