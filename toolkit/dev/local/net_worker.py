"""LOCAL ONLY: the pg_net stand-in's worker as part of the local cluster. `toolkit local up`
starts it for the cluster's main database (the one pg_cron runs jobs in), it lives as long as
the server does (a watchdog ends it with the postmaster), and `local down` stops it first.
Never started for a hosted project, whose pg_net has its own background worker.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.dev.processes import PidService

PID_FILE = "pg_net_worker.pid"


class NetWorker(PidService):
    def __init__(self, home: Path, log_file: Path):
        super().__init__(home / PID_FILE, log_file)

    def ensure(self, conninfo: str, postmaster: int) -> int:
        """The worker's pid, started now if it is not running (a crashed one is replaced)."""
        from toolkit.dev.pg_net import start_worker

        pid = self.pid()
        if pid is None:
            pid = start_worker(conninfo, log_file=self.log_file, lives_with=postmaster).pid
            self.record(pid)
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        """The worker writes the responses of the batch in flight before it exits."""
        super().stop(timeout)
