"""LOCAL ONLY: starts and stops the Realtime stand-in's server process (server.py), for the
tests and for `toolkit local up`. Never for a hosted project."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from toolkit.dev.processes import Managed, PidService, free_port, port_free, start_module
from toolkit.dev.realtime.server import PATH, SECRET_ENV

DEFAULT_PORT = 54332            # beside the cluster (54330) and the functions gateway (54331)
READY_TIMEOUT = 15.0
PID_FILE = "realtime.pid"


@dataclass(kw_only=True)
class RealtimeHandle(Managed):
    """A running server."""

    port: int

    @property
    def url(self) -> str:
        """The base URL the functions gateway proxies /realtime/v1/ to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"


def start(secret: str, *, port: int | None = None, log_file: Path | None = None,
          lives_with: int | None = None, ready_timeout: float = READY_TIMEOUT) -> RealtimeHandle:
    """Start the server on 127.0.0.1 (`port` None or 0: a free one) checking tokens against
    `secret`, and wait until it listens (see processes.start_module)."""
    port = port or free_port()
    return start_module("toolkit.dev.realtime.server", ["--port", str(port)], {SECRET_ENV: secret},
                        make=partial(RealtimeHandle, port=port), what="the Realtime stand-in", log_file=log_file,
                        log_prefix="realtime-", lives_with=lives_with, ready_timeout=ready_timeout,
                        late="did not listen")


class RealtimeService(PidService):
    """The server as part of the local stack: `toolkit local up` starts it (replacing a crashed
    one), it lives as long as the cluster's postmaster, `local down` stops it."""

    def __init__(self, home: Path, log_file: Path):
        super().__init__(home / PID_FILE, log_file)

    def port(self) -> int | None:
        fields = self.fields()
        return int(fields[1]) if fields and len(fields) > 1 else None

    def ensure(self, secret: str, postmaster: int) -> int:
        """The server's pid, started now if it is not running (on DEFAULT_PORT when it is free)."""
        pid = self.pid()
        if pid is None:
            port = DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port()
            pid = start(secret, port=port, log_file=self.log_file, lives_with=postmaster).pid
            self.record(pid, port)
        return pid
