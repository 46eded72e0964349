"""The Edge Functions (templates/edge): serve them locally with Deno, type-check, lint and test them.

The functions are Deno/TypeScript, deployed to Supabase as they are; locally one Deno process
(`_serve/main.ts`) serves every function the way Supabase's gateway does, checking HS256 JWTs
signed with a per-project secret (`.toolkit/local/jwt_secret`).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.project import Project, find_project

DEFAULT_PORT = 54331            # phases.yaml's processor_url points here
READY_PATH = "/_serve/ready"
# The first run downloads npm:postgres into Deno's cache; later starts take well under a second.
READY_TIMEOUT = 120.0
DENO_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read"]

_WATCHDOG = """
import os, signal, sys, time
parent, child, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
while True:
    time.sleep(0.5)
    try:
        os.kill(child, 0)
    except ProcessLookupError:
        break                      # the server is gone: nothing to watch
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        try:
            os.killpg(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if log:                    # a temporary log nobody will read any more
            try:
                os.unlink(log)
            except OSError:
                pass
        break
"""


# ---------------------------------------------------------------------------------------
# Where things are

def functions_dir(project: Project | None = None) -> Path:
    """The project's templates/edge, or the toolkit's own when the project has none."""
    project = project or find_project()
    here = project.templates / "edge"
    if (here / "deno.json").is_file():
        return here
    bundled = Path(__file__).resolve().parent.parent / "templates" / "edge"
    if (bundled / "deno.json").is_file():
        return bundled
    raise ToolkitError(f"no Edge Functions found at {here}")


def deno_bin() -> str:
    """The Deno binary of the `deno` PyPI package (or DENO_BIN)."""
    if os.environ.get("DENO_BIN"):
        path = os.environ["DENO_BIN"]
        if not os.access(path, os.X_OK):
            raise ToolkitError(f"DENO_BIN={path} is not an executable")
        return path
    try:
        from deno import find_deno_bin
    except ImportError:
        raise ToolkitError("Deno is not installed", hint="pip install deno (it is a toolkit dependency)") from None
    path = find_deno_bin()
    if not path or not Path(path).exists():
        raise ToolkitError("the deno package has no binary for this platform", hint="install Deno and set DENO_BIN")
    return str(path)


def function_names(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("*/handler.ts") if not p.parent.name.startswith("_"))


# ---------------------------------------------------------------------------------------
# JWTs (HS256, the Supabase way; no PyJWT here)

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_jwt(secret: str, sub: str | None = None, role: str = "authenticated", ttl: int = 3600,
             **claims) -> str:
    """An HS256 token as Supabase issues them: role, sub, iat, exp (plus any extra claims)."""
    now = int(time.time())
    payload = {"role": role, "iat": now, "exp": now + int(ttl), **claims}
    if sub is not None:
        payload["sub"] = sub
    if role == "authenticated":
        payload.setdefault("aud", "authenticated")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(sig)}"


def local_jwt_secret(project_root: Path) -> str:
    """The project's local JWT secret, created (mode 0600) on first use and stable afterwards."""
    path = Path(project_root) / ".toolkit" / "local" / "jwt_secret"
    if path.is_file():
        secret = path.read_text().strip()
        if secret:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two first uses at once keep one secret (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


# ---------------------------------------------------------------------------------------
# The local server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EdgeServer:
    """A running `_serve/main.ts`; stop() (or leaving the `with` block) ends it."""

    url: str
    port: int
    jwt_secret: str
    process: subprocess.Popen
    log_file: Path
    _watchdog: subprocess.Popen | None = field(default=None, repr=False)
    _own_log: bool = field(default=False, repr=False)   # a temporary log, removed on stop

    @property
    def functions_url(self) -> str:
        return f"{self.url}/functions/v1"

    def token(self, sub: str | None = None, role: str = "service_role", ttl: int = 3600) -> str:
        return mint_jwt(self.jwt_secret, sub=sub, role=role, ttl=ttl)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._watchdog and self._watchdog.poll() is None:
            self._watchdog.terminate()
            self._watchdog.wait(5)
        if self._own_log:
            self.log_file.unlink(missing_ok=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> "EdgeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def serve(db_url: str, *, port: int | None = DEFAULT_PORT, jwt_secret: str,
          market_data_url: str = "", api_key: str = "", timeout_ms: int | None = None,
          env: dict[str, str] | None = None, folder: Path | None = None,
          log_file: Path | None = None, ready_timeout: float = READY_TIMEOUT) -> EdgeServer:
    """Start the local server on 127.0.0.1 and wait until every function is loaded.

    port=None or 0 picks a free port. The server runs in its own session, is stopped at
    interpreter exit, and a watchdog kills it should this process die without stopping it.
    """
    folder = folder or functions_dir()
    port = port or free_port()
    child_env = {
        **os.environ,
        "PORT": str(port),
        "JWT_SECRET": jwt_secret,
        "SUPABASE_DB_URL": db_url,
        "MARKET_DATA_BASE_URL": market_data_url,
        "MARKET_DATA_API_KEY": api_key,
        "NO_COLOR": "1",
        **({"MARKET_DATA_TIMEOUT_MS": str(timeout_ms)} if timeout_ms else {}),
        **(env or {}),
    }
    own_log = log_file is None
    if log_file is None:
        fd, name = tempfile.mkstemp(prefix="edge-serve-", suffix=".log")
        os.close(fd)
        log_file = Path(name)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [deno_bin(), "run", *DENO_PERMISSIONS, "_serve/main.ts"],
            cwd=folder, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = EdgeServer(url=f"http://127.0.0.1:{port}", port=port, jwt_secret=jwt_secret,
                        process=process, log_file=log_file, _own_log=own_log)
    atexit.register(server.stop)
    server._watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(process.pid), str(log_file) if own_log else ""],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(server, ready_timeout)
    except BaseException:
        server.stop()
        raise
    return server


# The server is on loopback: never route the readiness probe through an HTTP(S)_PROXY.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _wait_ready(server: EdgeServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running():
            raise ToolkitError(f"the Edge Functions server exited ({server.process.returncode}):\n{_tail(server.log())}")
        try:
            with _DIRECT.open(server.url + READY_PATH, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise ToolkitError(f"the Edge Functions server did not answer within {timeout:.0f} s:\n{_tail(server.log())}")


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------
# check / test

@dataclass
class DenoRun:
    ok: bool
    output: str
    commands: list[str]


def _run(folder: Path, *args_list: list[str], timeout: float = 600) -> DenoRun:
    """Run deno commands in the functions folder, all of them, collecting their output."""
    deno = deno_bin()
    out, ok, commands = [], True, []
    env = {**os.environ, "NO_COLOR": "1"}
    for args in args_list:
        cmd = [deno, *args]
        commands.append(" ".join(["deno", *args]))
        try:
            done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            out.append(f"$ deno {' '.join(args)}\ntimed out after {timeout:.0f} s")
            ok = False
            continue
        out.append(f"$ deno {' '.join(args)}\n{(done.stdout + done.stderr).strip()}")
        ok = ok and done.returncode == 0
    return DenoRun(ok, "\n".join(out), commands)


def check(folder: Path | None = None) -> DenoRun:
    """`deno check` of every entry point (index.ts, handler.ts, the local server, the tests), then `deno lint`."""
    folder = folder or functions_dir()
    entries = sorted(str(p.relative_to(folder)) for pattern in ("*/index.ts", "*/handler.ts", "_serve/main.ts",
                                                                  "**/*_test.ts")
                     for p in folder.glob(pattern))
    return _run(folder, ["check", *entries], ["lint"])


def test(folder: Path | None = None) -> DenoRun:
    """The Deno unit tests (`**/*_test.ts`)."""
    folder = folder or functions_dir()
    return _run(folder, ["test", *DENO_PERMISSIONS])
