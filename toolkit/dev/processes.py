"""LOCAL ONLY: free loopback ports and watchdogs for the servers the local stack starts.

A watchdog is a small separate process that runs a clean-up command (or kills a process
group) when the process that started a server dies without stopping it, so that a crashed
test run or CLI never leaves a server behind.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

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


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port` (a port in TIME_WAIT is free, as servers
    bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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


M = TypeVar("M", bound=Managed)
# The folder holding the `toolkit` package, for a child started from a source checkout.
_ROOT = Path(__file__).resolve().parents[2]


def start_module(module: str, args: list[str], env: dict[str, str], *, make: Callable[..., M], what: str,
                 log_file: Path | None = None, log_prefix: str = "server-", lives_with: int | None = None,
                 ready_timeout: float = 15.0, late: str = "did not start", hint: str | None = None) -> M:
    """Run `python -m module args --ready-fd N` in a session of its own, logging to `log_file`
    (a temporary file, removed on stop, when None), and wait until it writes "ready" to that
    descriptor (`late` says what it failed to do when it does not). `make(process=, log_file=,
    _own_log=)` builds the handle.

    It ends with this process; with `lives_with` (the cluster's postmaster) it outlives this
    process and ends with that one instead."""
    from toolkit.errors import ToolkitError

    log_file, own_log = log_file_for(log_file, log_prefix)
    env = {**os.environ, **env,
           "PYTHONPATH": os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)}
    ready_read, ready_write = os.pipe()
    try:
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args, "--ready-fd", str(ready_write)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(ready_write,), start_new_session=True,
            )
        os.close(ready_write)
        ready_write = -1
        handle = make(process=process, log_file=log_file, _own_log=own_log)
        if lives_with is None:
            atexit.register(handle.stop)
        handle._watchdog = watchdog(child=process.pid, kill_group=True, parent=lives_with,
                                    cleanup=["rm", "-f", str(log_file)] if own_log else None)
        try:
            deadline = time.monotonic() + ready_timeout
            while (remaining := deadline - time.monotonic()) > 0:
                if select.select([ready_read], [], [], remaining)[0]:
                    if os.read(ready_read, 64).startswith(b"ready"):
                        return handle
                    handle.process.wait(5)  # it closed the pipe without a word: it died
                    raise ToolkitError(f"{what} exited ({handle.process.returncode}):\n{_tail(handle.log())}")
            raise ToolkitError(f"{what} {late} within {ready_timeout:g} s:\n{_tail(handle.log())}", hint=hint)
        except BaseException:
            handle.stop()
            raise
    finally:
        os.close(ready_read)
        if ready_write >= 0:
            os.close(ready_write)


def _tail(text: str, lines: int = 10) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class PidService:
    """A server of the local stack that outlives the command starting it (`toolkit local up`):
    its pid (and what else it records) in a file of the cluster's folder; `stop` ends its
    process group, SIGKILL after `timeout` seconds."""

    def __init__(self, pid_file: Path, log_file: Path):
        self.pid_file = pid_file
        self.log_file = log_file

    def fields(self) -> list[str] | None:
        """What the file records (pid first), while that process runs."""
        try:
            fields = self.pid_file.read_text().split()
            return fields if fields and alive(int(fields[0])) else None
        except (OSError, ValueError):
            return None

    def pid(self) -> int | None:
        fields = self.fields()
        return int(fields[0]) if fields else None

    def record(self, *fields: object) -> None:
        self.pid_file.write_text(" ".join(map(str, fields)) + "\n")

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
