"""LOCAL ONLY: free loopback ports and watchdogs for the servers the local stack starts.

A watchdog is a small separate process that runs a clean-up command (or kills a process
group) when the process that started a server dies without stopping it, so that a crashed
test run or CLI never leaves a server behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_WATCHDOG = """
import os, signal, subprocess, sys, time
parent, child, group, cleanup = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while True:
    time.sleep(0.5)
    if child and not alive(child):
        break                       # the server is gone: nothing to watch
    if not alive(parent):
        if group and child:
            try:
                os.killpg(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if cleanup:
            subprocess.run(cleanup, capture_output=True)
        break
"""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_file_for(given: Path | None, prefix: str) -> tuple[Path, bool]:
    """The server's log: `given`, or a new temporary file (True: it is the server's own, to remove)."""
    if given is not None:
        return given, False
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return Path(name), True


def watchdog(*, child: int = 0, kill_group: bool = False, cleanup: list[str] | None = None,
             parent: int | None = None) -> subprocess.Popen:
    """Watch `parent` (this process by default): when it dies, SIGKILL `child`'s process group
    (kill_group) and/or run `cleanup`. The watchdog ends by itself once `child` (when given)
    has exited."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(parent or os.getpid()), str(child), "1" if kill_group else "0",
         *(cleanup or [])],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def alive(pid: int) -> bool:
    """Running, and not a zombie (exited, waiting to be reaped); a child of this process that
    exited is reaped here."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not this process's child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's: alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_group(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM to the process group, SIGKILL after `timeout` seconds."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass(kw_only=True)
class Managed:
    """A server this process started in a session of its own, with its log and its watchdog;
    stop() (or leaving the `with` block) ends it."""

    process: subprocess.Popen
    log_file: Path
    _watchdog: subprocess.Popen | None = field(default=None, repr=False)
    _own_log: bool = field(default=False, repr=False)   # a temporary log, removed on stop

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to its process group, SIGKILL after `timeout` seconds; then the watchdog goes."""
        stop_group(self.process, timeout)
        if self._watchdog and self._watchdog.poll() is None:
            self._watchdog.terminate()
            self._watchdog.wait(5)
        if self._own_log:
            self.log_file.unlink(missing_ok=True)
        atexit.unregister(self.stop)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
