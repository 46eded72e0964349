"""LOCAL ONLY: starts and stops the pg_net stand-in's worker process (worker.py).

Never for a hosted project, where pg_net's background worker sends the requests. The worker
runs in a session of its own, is stopped at interpreter exit, and a watchdog kills it should
this process die without stopping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from toolkit.dev.pg_net.settings import (CONNINFO_ENV, DEFAULT_BATCH_SIZE, DEFAULT_POLL_INTERVAL,
                                         DEFAULT_TTL_SECONDS, Settings)
from toolkit.dev.processes import Managed, start_module

READY_TIMEOUT = 15.0


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
    return start_module("toolkit.dev.pg_net.worker",
                        ["--batch-size", str(batch_size), "--ttl-seconds", str(ttl_seconds),
                         "--poll-interval", str(poll_interval)],
                        {CONNINFO_ENV: conninfo}, make=partial(WorkerHandle, settings=settings),
                        what="the pg_net stand-in worker", log_file=log_file, log_prefix="pg-net-worker-",
                        lives_with=lives_with, ready_timeout=ready_timeout, late="did not reach its database",
                        hint="is the local cluster up? `toolkit local status` says")
