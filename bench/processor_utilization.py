"""The queue processor against the sandbox provider at zero latency, under the real budget
(300 calls per 60 s): share of the budget used (goal >= 0.98), budget violations (goal 0),
and job latency from claim to completion.

Run by hand: .venv/bin/python bench/processor_utilization.py [--minutes 3] [--jobs 1500]
Creates a throwaway cluster on a free port, serves the functions with Deno, removes it all after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.dev.gateway import serve  # noqa: E402
from toolkit.engine import Engine  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402
from toolkit.processor import Ticker  # noqa: E402
from toolkit.dev.sandbox.server import SandboxServer  # noqa: E402




def worst_window(claims: list[tuple[float, int]], window: float) -> int:
    claims.sort()
    worst, j, running = 0, 0, 0
    for t, calls in claims:
        running += calls
        while claims[j][0] <= t - window:
            running -= claims[j][1]
            j += 1
        worst = max(worst, running)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between ticks while the budget is spent")
    args = parser.parse_args()
    loaded = load_plan(ROOT / "phases.yaml")
    limit = loaded.plan.settings.quotas.calls_per_window
    window = loaded.plan.settings.quotas.call_window_seconds
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        cluster.up(bootstrap_example=ROOT / "examples" / "legacy_app")
        try:
            url = cluster.conninfo()
            Engine(loaded, target_from_url(url), "bench").apply([0, 1, 2, 3])
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job")  # nothing else moves
                conn.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, priority) "
                             "SELECT 'Q' || lpad(g::text, 5, '0'), 'quote', 0 FROM generate_series(1, %s) g",
                             [args.jobs])
            with SandboxServer(port=0, calls_per_minute=limit) as sandbox, \
                    serve(url, names=loaded.plan.names, port=None, jwt_secret="bench", market_data_url=sandbox.url, api_key="bench") as server:
                ticker = Ticker(loaded.plan, target_from_url(url), f"{server.functions_url}/{loaded.plan.names.slug('queue-processor')}",
                                server.token())
                stop = time.monotonic() + args.minutes * 60
                started = time.time()
                while time.monotonic() < stop:
                    ticker.run(interval=args.tick, until_empty=True, max_ticks=1)
                    time.sleep(args.tick)
                elapsed = time.time() - started
                provider = sandbox.stats()
            with psycopg.connect(url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at - started_at) "
                    "FROM public.api_call_queue_v2 WHERE status = 'completed'").fetchall()
        finally:
            cluster.destroy()
    claims = [(float(t), 1) for t, _ in rows]
    latencies = sorted(float(d) * 1000 for _, d in rows)
    budget = limit * elapsed / window
    used = len(claims)
    print(f"processor vs sandbox at zero latency; budget {limit} calls / {window} s; {elapsed:.0f} s run; "
          f"ticks every {args.tick:g} s while the budget is spent")
    print(f"{'calls handed out':32} {used}")
    print(f"{'budget over the run':32} {budget:.0f}")
    print(f"{'share of budget used':32} {used / budget:.3f} (goal >= 0.98)")
    print(f"{'worst calls in any {0} s window'.format(window):32} {worst_window(claims, window)} (limit {limit})")
    print(f"{'provider 429s (violations)':32} {provider.get('rate_limited', 0)} (goal 0)")
    if latencies:
        p95 = latencies[max(int(len(latencies) * 0.95) - 1, 0)]
        print(f"{'claim -> completion p50 / p95':32} {statistics.median(latencies):.0f} ms / {p95:.0f} ms")


if __name__ == "__main__":
    main()
