"""`toolkit phase apply 0..1` on a fresh local database: wall time, and `local up` from nothing.

Run by hand: .venv/bin/python bench/apply_time.py [--runs N]
Creates a throwaway cluster in a temporary folder on a free port and removes it afterwards.
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

from toolkit.config import load_plan  # noqa: E402
from toolkit.db import target_from_url  # noqa: E402
from toolkit.engine import Engine  # noqa: E402
from toolkit.dev.local.cluster import LocalCluster  # noqa: E402
from toolkit.dev.processes import free_port  # noqa: E402




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    loaded = load_plan(ROOT / "phases.yaml")
    with tempfile.TemporaryDirectory(prefix="toolkit-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "local", port=free_port())
        t0 = time.perf_counter()
        cluster.up(bootstrap_example=ROOT / "examples" / "legacy_app")
        up_seconds = time.perf_counter() - t0
        try:
            times = []
            for i in range(args.runs):
                name = f"bench_apply_{i}"
                cluster.create_database(name)
                cluster.bootstrap_database(name, example=ROOT / "examples" / "legacy_app")
                engine = Engine(loaded, target_from_url(cluster.conninfo(name)), "bench")
                t0 = time.perf_counter()
                engine.apply([0, 1])
                times.append(time.perf_counter() - t0)
                cluster.drop_database(name)
        finally:
            cluster.destroy()
    print(f"local up from nothing (initdb, start, Supabase layer, legacy app): {up_seconds:.2f} s (goal < 3 s)")
    print(f"phase apply 0..1 on a fresh database, {args.runs} runs: "
          f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
