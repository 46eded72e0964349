"""`toolkit --help` wall time against `python -c "import typer"` (goal: ratio at most 1.5).

Run by hand: .venv/bin/python bench/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def wall(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    toolkit = str(VENV_BIN / "toolkit")
    cases = {
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
        "toolkit --help": [toolkit, "--help"],
        "toolkit phase --help": [toolkit, "phase", "--help"],
    }
    results = {name: wall(cmd, args.runs) for name, cmd in cases.items()}
    base = statistics.median(results['python -c "import typer"'])
    print(f"{'command':28} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}")
    for name, times in results.items():
        med = statistics.median(times)
        p90 = sorted(times)[int(len(times) * 0.9) - 1]
        print(f"{name:28} {med * 1000:10.1f} {p90 * 1000:8.1f} {med / base:6.2f}")
    ratio = statistics.median(results["toolkit --help"]) / base
    print(f"\ntoolkit --help / import typer = {ratio:.2f} (goal <= 1.5): {'ok' if ratio <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
