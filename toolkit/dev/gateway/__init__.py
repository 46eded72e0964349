"""LOCAL ONLY: the functions gateway, Supabase's Edge Runtime and gateway imitated by one Deno
process (`main.ts`) that serves a build of the plan's functions at /functions/v1/<slug>,
checking HS256 JWTs signed with the local secret where a function's config says verify_jwt.
Never a way to run functions for a hosted project: there the platform serves them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from toolkit import edge
from toolkit.dev.jwt import mint_jwt
from toolkit.dev.processes import Managed, free_port, log_file_for, port_free, watchdog
from toolkit.errors import ToolkitError
from toolkit.names import Names

DEFAULT_PORT = 54331            # phases.yaml's processor_url points here
READY_PATH = "/_serve/ready"
# The first run downloads npm:postgres into Deno's cache; later starts take well under a second.
READY_TIMEOUT = 120.0
GATEWAY = Path(__file__).parent
GATEWAY_FOLDER = "_gateway"     # where a local build holds main.ts (underscore: never a function)


def build(source: Path, names: Names, dest: Path, moved: dict[str, str] | None = None) -> Path:
    """A local build: the rendered functions (and the pointers under slugs that moved) plus the
    gateway beside them."""
    edge.render(source, names, dest, moved)
    (dest / GATEWAY_FOLDER).mkdir()
    for name in ("main.ts", "main_test.ts", "rest.ts", "front.ts"):
        shutil.copy(GATEWAY / name, dest / GATEWAY_FOLDER / name)
    return dest


def temporary_build(source: Path, names: Names, moved: dict[str, str] | None = None) -> Path:
    return build(source, names, Path(tempfile.mkdtemp(prefix="edge-build-")) / "functions", moved)


@dataclass(kw_only=True)
class EdgeServer(Managed):
    """A running gateway; stopping it also removes its build."""

    url: str
    port: int
    jwt_secret: str
    build_dir: Path

    @property
    def functions_url(self) -> str:
        return f"{self.url}/functions/v1"

    def token(self, sub: str | None = None, role: str = "service_role", ttl: int = 3600) -> str:
        return mint_jwt(self.jwt_secret, sub=sub, role=role, ttl=ttl)

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        shutil.rmtree(self.build_dir.parent, ignore_errors=True)


def check_port(port: int) -> None:
    """Refuse a port something already listens on, before anything starts: otherwise the
    readiness probe could reach that other server and the start look successful."""
    if not port_free(port):
        raise ToolkitError(f"port {port} on 127.0.0.1 is already in use",
                           hint="stop what listens there, or pick another port with --port")


def serve(db_url: str, *, names: Names, port: int | None = DEFAULT_PORT, jwt_secret: str,
          market_data_url: str = "", api_key: str = "", timeout_ms: int | None = None,
          realtime_url: str | None = None,
          env: dict[str, str] | None = None, folder: Path | None = None,
          log_file: Path | None = None, ready_timeout: float = READY_TIMEOUT,
          moved: dict[str, str] | None = None) -> EdgeServer:
    """Build the functions for `names`, start the gateway on 127.0.0.1, wait until every
    function is loaded. /realtime/v1/ goes to `realtime_url` (default: `toolkit local up`'s
    Realtime stand-in).

    port=None or 0 picks a free port. The server runs in its own session, is stopped at
    interpreter exit, and a watchdog kills it should this process die without stopping it.
    """
    if port:
        check_port(port)
    build_dir = temporary_build(folder or edge.functions_dir(), names, moved)
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
        **({"REALTIME_URL": realtime_url} if realtime_url else {}),
        **(env or {}),
    }
    log_file, own_log = log_file_for(log_file, "edge-serve-")
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [edge.deno_bin(), "run", *edge.DENO_PERMISSIONS, f"{GATEWAY_FOLDER}/main.ts"],
            cwd=build_dir, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = EdgeServer(url=f"http://127.0.0.1:{port}", port=port, jwt_secret=jwt_secret,
                        process=process, log_file=log_file, build_dir=build_dir, _own_log=own_log)
    atexit.register(server.stop)
    cleanup = ["rm", "-rf", str(build_dir.parent)] + ([str(log_file)] if own_log else [])
    server._watchdog = watchdog(child=process.pid, kill_group=True, cleanup=cleanup)
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
            log = server.log()
            if "AddrInUse" in log:  # taken between the check and the start
                raise ToolkitError(f"port {server.port} on 127.0.0.1 is already in use",
                                   hint="stop what listens there, or pick another port with --port")
            raise ToolkitError(f"the Edge Functions server exited ({server.process.returncode}):\n{_tail(log)}")
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
