"""LOCAL ONLY: the pg_net stand-in's worker as part of the local cluster. `toolkit local up`
starts it for the cluster's main database (the one pg_cron runs jobs in), it lives as long as
the server does (a watchdog ends it with the postmaster), and `local down` stops it first.
Never started for a hosted project, whose pg_net has its own background worker.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from toolkit.dev.processes import alive

PID_FILE = "pg_net_worker.pid"


class NetWorker:
    def __init__(self, home: Path, log_file: Path):
        self.pid_file = home / PID_FILE
        self.log_file = log_file

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def ensure(self, conninfo: str, postmaster: int) -> int:
        """The worker's pid, started now if it is not running (a crashed one is replaced)."""
        from toolkit.dev.pg_net import start_worker

        pid = self.pid()
        if pid is None:
            pid = start_worker(conninfo, log_file=self.log_file, lives_with=postmaster).pid
            self.pid_file.write_text(f"{pid}\n")
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not alive(pid):
                    return
                time.sleep(0.05)

