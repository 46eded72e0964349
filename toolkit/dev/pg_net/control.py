"""LOCAL ONLY: starts and stops the pg_net stand-in's worker process (worker.py).

Never for a hosted project, where pg_net's background worker sends the requests. The worker
runs in a session of its own, is stopped at interpreter exit, and a watchdog kills it should
this process die without stopping it.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.dev.pg_net.settings import (CONNINFO_ENV, DEFAULT_BATCH_SIZE, DEFAULT_POLL_INTERVAL,
                                         DEFAULT_TTL_SECONDS, Settings)
from toolkit.dev.processes import log_file_for, Managed, watchdog
from toolkit.errors import ToolkitError

READY_TIMEOUT = 15.0
# The folder holding the `toolkit` package, for a child started from a source checkout.
_ROOT = Path(__file__).resolve().parents[3]


@dataclass(kw_only=True)
class WorkerHandle(Managed):
    """A running worker."""

    settings: Settings

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; the worker writes the responses of the batch in flight and exits. After
        `timeout` seconds it is killed, and that batch's responses are lost."""
        super().stop(timeout)


def start_worker(conninfo: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, poll_interval: float = DEFAULT_POLL_INTERVAL,
                 log_file: Path | None = None, ready_timeout: float = READY_TIMEOUT,
                 lives_with: int | None = None) -> WorkerHandle:
    """Start a worker for the database of `conninfo` (where `install` put schema net) and
    wait until it listens for requests.

    The worker ends with this process; with `lives_with` (the cluster's postmaster) it
    outlives this process and ends with that one instead, as pg_net's worker ends with its server.

    batch_size and ttl_seconds are pg_net.batch_size and pg_net.ttl. The worker logs problems
    to `log_file` (a temporary file, removed on stop, when None)."""
    settings = Settings(conninfo=conninfo, batch_size=batch_size, ttl_seconds=ttl_seconds,
                        poll_interval=poll_interval)
    log_file, own_log = log_file_for(log_file, "pg-net-worker-")
    env = {**os.environ, CONNINFO_ENV: conninfo,
           "PYTHONPATH": os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)}
    ready_read, ready_write = os.pipe()
    try:
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "toolkit.dev.pg_net.worker", "--batch-size", str(batch_size),
                 "--ttl-seconds", str(ttl_seconds), "--poll-interval", str(poll_interval),
                 "--ready-fd", str(ready_write)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(ready_write,), start_new_session=True,
            )
        os.close(ready_write)
        ready_write = -1
        handle = WorkerHandle(process=process, log_file=log_file, settings=settings, _own_log=own_log)
        if lives_with is None:
            atexit.register(handle.stop)
        handle._watchdog = watchdog(child=process.pid, kill_group=True, parent=lives_with,
                                    cleanup=["rm", "-f", str(log_file)] if own_log else None)
        try:
            _wait_ready(handle, ready_read, ready_timeout)
        except BaseException:
            handle.stop()
            raise
        return handle
    finally:
        os.close(ready_read)
        if ready_write >= 0:
            os.close(ready_write)


def _wait_ready(handle: WorkerHandle, ready_read: int, timeout: float) -> None:
    """Until the worker reports that it listens; it closes the pipe without a word if it dies."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([ready_read], [], [], remaining)
        if readable:
            if os.read(ready_read, 64).startswith(b"ready"):
                return
            handle.process.wait(5)
            raise ToolkitError(f"the pg_net stand-in worker exited ({handle.process.returncode}):\n{_tail(handle.log())}")
    raise ToolkitError(f"the pg_net stand-in worker did not reach its database within {timeout:g} s:\n{_tail(handle.log())}",
                       hint="is the local cluster up? `toolkit local status` says")


def _tail(text: str, lines: int = 10) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
