"""LOCAL ONLY: starts and stops the Realtime stand-in's server process (server.py), for the
tests and for `toolkit local up`. Never for a hosted project."""

from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.dev.processes import Managed, alive, free_port, log_file_for, watchdog
from toolkit.dev.realtime.server import PATH, SECRET_ENV
from toolkit.errors import ToolkitError

DEFAULT_PORT = 54332            # beside the cluster (54330) and the functions gateway (54331)
READY_TIMEOUT = 15.0
PID_FILE = "realtime.pid"
# The folder holding the `toolkit` package, for a child started from a source checkout.
_ROOT = Path(__file__).resolve().parents[3]


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
    `secret`, and wait until it listens.

    It ends with this process; with `lives_with` (the cluster's postmaster) it outlives this
    process and ends with that one instead."""
    port = port or free_port()
    log_file, own_log = log_file_for(log_file, "realtime-")
    env = {**os.environ, SECRET_ENV: secret,
           "PYTHONPATH": os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)}
    ready_read, ready_write = os.pipe()
    try:
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "toolkit.dev.realtime.server", "--port", str(port), "--ready-fd", str(ready_write)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(ready_write,), start_new_session=True,
            )
        os.close(ready_write)
        ready_write = -1
        handle = RealtimeHandle(process=process, log_file=log_file, port=port, _own_log=own_log)
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


def _wait_ready(handle: RealtimeHandle, ready_read: int, timeout: float) -> None:
    readable, _, _ = select.select([ready_read], [], [], timeout)
    if readable and os.read(ready_read, 64).startswith(b"ready"):
        return
    if handle.running():
        raise ToolkitError(f"the Realtime stand-in did not listen within {timeout:g} s:\n{_tail(handle.log())}")
    handle.process.wait(5)
    raise ToolkitError(f"the Realtime stand-in exited ({handle.process.returncode}):\n{_tail(handle.log())}")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(text: str, lines: int = 10) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class RealtimeService:
    """The server as part of the local stack: `toolkit local up` starts it (replacing a crashed
    one), it lives as long as the cluster's postmaster, `local down` stops it."""

    def __init__(self, home: Path, log_file: Path):
        self.pid_file = home / PID_FILE
        self.log_file = log_file

    def pid(self) -> int | None:
        try:
            pid, _ = self._read()
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def port(self) -> int | None:
        try:
            return self._read()[1] if self.pid() else None
        except (OSError, ValueError):
            return None

    def _read(self) -> tuple[int, int]:
        pid, port = self.pid_file.read_text().split()
        return int(pid), int(port)

    def ensure(self, secret: str, postmaster: int) -> int:
        """The server's pid, started now if it is not running (on DEFAULT_PORT when it is free)."""
        pid = self.pid()
        if pid is None:
            port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port()
            handle = start(secret, port=port, log_file=self.log_file, lives_with=postmaster)
            pid = handle.pid
            self.pid_file.write_text(f"{pid} {port}\n")
        return pid

    def stop(self, timeout: float = 5.0) -> None:
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
