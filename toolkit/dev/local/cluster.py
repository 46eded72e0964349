"""The private local cluster: create, start, stop, describe and bootstrap it.

It lives under the project's `.toolkit/local/`, listens on 127.0.0.1 only, and runs as the
`postgres` user when the toolkit runs as root (initdb and pg_ctl refuse root). When that user
cannot reach the project folder (a checkout under a root-only parent), the cluster's data and
socket folders go to /var/tmp/toolkit-local/<hash of the project path>/ instead, and
`.toolkit/local/cluster.json` records where.

Its roles are a hosted project's: `supabase_admin` is the only superuser and owns what the
platform installs; `postgres` is the project owner's login, no superuser. Everything but the
build itself (this module) connects as `postgres` (`conninfo()`), so whatever works locally
works under a hosted project's privileges.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.dev.jwt import jwt_secret_in
from toolkit.dev.local.net_worker import NetWorker
from toolkit.dev.pg_net import install as install_pg_net
from toolkit.dev.processes import port_free
from toolkit.errors import ToolkitError
from toolkit.dev.local.binaries import PgBinaries, find_binaries

DEFAULT_PORT = 54330          # not 54322, which `supabase start` takes
SERVER_USER = "postgres"
FALLBACK_ROOT = Path("/var/tmp/toolkit-local")
SQL_DIR = Path(__file__).parent / "sql"
CRON_DATABASE = "postgres"
PRELOADABLE = ("pg_cron", "plpgsql_check")
# pg_cron's install script allows this database name besides cron.database_name; the test
# suite builds its template database under it so that clones carry the cron schema.
CRON_TEST_DATABASE = "contrib_regression"
ADMIN_USER = "supabase_admin"   # the bootstrap superuser: builds the cluster, nothing else
LOGIN_USER = "postgres"         # what the toolkit, the demo, the benches and the tests use
# How the cluster is built; a state file from an older build is refused with a rebuild hint.
# 2: the hosted role model (before it, postgres was the superuser).
LAYOUT = 2

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "'128MB'",
    # A disposable development cluster: speed over crash safety (`toolkit local reset` rebuilds it).
    # Commits stay synchronous, as on Supabase: asynchronous ones delay the hint bits that let
    # the queue's claim scan skip the jobs just claimed (and with fsync off they cost little).
    "fsync": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "timezone": "'UTC'",
}


@dataclass
class ClusterState:
    port: int
    data_root: str
    password: str            # of LOGIN_USER
    admin_password: str      # of ADMIN_USER
    major: int
    bindir: str
    preload: list[str]
    layout: int = LAYOUT

    @property
    def data_dir(self) -> Path:
        return Path(self.data_root) / "data"

    @property
    def socket_dir(self) -> Path:
        return Path(self.data_root) / "run"

    @property
    def log_file(self) -> Path:
        return Path(self.data_root) / "server.log"


def _reachable_by(user: pwd.struct_passwd, path: Path) -> bool:
    """Can `user` traverse every folder down to `path`? (Read from the mode bits, no process.)"""
    groups = {g for g in os.getgrouplist(user.pw_name, user.pw_gid)}
    for folder in (path, *path.parents):
        if not folder.exists():
            continue
        st = folder.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


class LocalCluster:
    def __init__(self, home: Path, port: int | None = None):
        self.home = home.resolve()
        self.state_file = self.home / "cluster.json"
        self.requested_port = port
        self.as_root = os.geteuid() == 0

    # -- state --------------------------------------------------------------------------
    def state(self) -> ClusterState | None:
        """The cluster's state; one built by an older toolkit is refused, since its roles differ."""
        state = self._stored()
        if state is not None and state.layout < LAYOUT:
            raise ToolkitError(
                f"the local cluster in {self.home} was built by an earlier toolkit, with postgres as its superuser; "
                "the local stack now has a hosted project's roles (postgres is no superuser there)",
                hint="rebuild it with `toolkit local reset` (its data is lost)")
        return state

    def _stored(self) -> ClusterState | None:
        """The state file as written, whatever its layout: enough to stop and remove any cluster."""
        try:
            raw = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ToolkitError(f"{self.state_file} is damaged ({exc}); remove it and run `toolkit local up`")
        try:
            return ClusterState(**{"layout": 1, "admin_password": "", **raw})
        except TypeError as exc:
            raise ToolkitError(f"{self.state_file} is damaged ({exc}); remove it and run `toolkit local up`")

    def _save(self, state: ClusterState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.__dict__, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def _server_user(self) -> pwd.struct_passwd:
        if not self.as_root:
            return pwd.getpwuid(os.geteuid())
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise ToolkitError(
                "running as root, the local cluster needs the `postgres` system user, which does not exist",
                hint="install the server package (`apt-get install postgresql-15`), which creates it",
            ) from None

    def _choose_data_root(self) -> Path:
        if not self.as_root or _reachable_by(self._server_user(), self.home):
            return self.home
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return FALLBACK_ROOT / digest

    def _run(self, args: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (["runuser", "-u", SERVER_USER, "--"] if self.as_root else []) + args
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip()
            raise ToolkitError(f"{what} failed: {out[-2000:]}")
        return proc

    def _own(self, *paths: Path) -> None:
        if self.as_root:
            user = self._server_user()
            for p in paths:
                os.chown(p, user.pw_uid, user.pw_gid)

    # -- queries -------------------------------------------------------------------------
    def pid(self) -> int | None:
        state = self._stored()
        if state is None:
            return None
        try:
            pid = int((state.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by another user
        return pid

    def conninfo(self, dbname: str = "postgres") -> str:
        """The project owner's login, `postgres`, as the toolkit uses it on a hosted project."""
        state = self._existing()
        return _url(LOGIN_USER, state.password, state.port, dbname)

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        """The superuser's login: for building the cluster (`toolkit local`), never for the toolkit."""
        state = self._existing()
        return _url(ADMIN_USER, state.admin_password, state.port, dbname)

    def _existing(self) -> ClusterState:
        state = self.state()
        if state is None:
            raise ToolkitError("the local cluster does not exist yet", hint="run `toolkit local up`")
        return state

    def status(self) -> dict:
        state = self.state()
        if state is None:
            return {"exists": False, "running": False, "home": str(self.home)}
        pid = self.pid()
        return {
            "exists": True,
            "running": pid is not None,
            "pid": pid,
            "port": state.port,
            "host": "127.0.0.1",
            "postgres_major": state.major,
            "data_dir": str(state.data_dir),
            "socket_dir": str(state.socket_dir),
            "log_file": str(state.log_file),
            "preload": state.preload,
            "missing_extensions": self._missing_extensions(state),
            "pg_net_worker": self._net_worker(state).pid(),
            "realtime": self._realtime_status(state),
            "home": str(self.home),
            "user": LOGIN_USER,
            "url": self.conninfo().replace(state.password, "****"),
        }

    def _net_worker(self, state: ClusterState) -> NetWorker:
        return NetWorker(self.home, Path(state.data_root) / "pg_net_worker.log")

    def realtime(self, state: ClusterState | None = None):
        """The Realtime stand-in that runs beside the cluster (toolkit.dev.realtime)."""
        from toolkit.dev.realtime import RealtimeService

        state = state or self._existing()
        return RealtimeService(self.home, Path(state.data_root) / "realtime.log")

    def _realtime_status(self, state: ClusterState) -> str | None:
        port = self.realtime(state).port()
        return f"ws://127.0.0.1:{port}/realtime/v1/websocket" if port else None

    def _services(self, state: ClusterState) -> None:
        """The processes that live with the server, started when not running (a crashed one is replaced)."""
        self._net_worker(state).ensure(self.conninfo(CRON_DATABASE), self.pid())
        self.realtime(state).ensure(jwt_secret_in(self.home), self.pid())

    @staticmethod
    def _missing_extensions(state: ClusterState) -> dict[str, str]:
        """Extensions the local stack would preload but the machine lacks -> package to install."""
        bins = PgBinaries(bindir=Path(state.bindir), major=state.major)
        return {ext: bins.package_for(ext) for ext in PRELOADABLE if ext not in state.preload}

    # -- lifecycle -----------------------------------------------------------------------
    def up(self, bootstrap_example: Path | None = None) -> dict:
        """Create (when missing) and start the cluster; a running cluster is left as it is."""
        started = time.perf_counter()
        state = self.state()
        if state is not None and self.pid() is not None:
            self._services(state)  # supervised: replaced if gone
            return {**self.status(), "action": "already running", "seconds": 0.0}
        created = False
        if state is None or not (state.data_dir / "PG_VERSION").exists():
            state = self._init(find_binaries())
            created = True
        self._start(state)
        if created:
            self._build_roles(state)
            self.bootstrap_database("postgres", example=bootstrap_example)
        self._services(state)
        action = "created and started" if created else "started"
        return {**self.status(), "action": action, "seconds": round(time.perf_counter() - started, 2)}

    def _init(self, bins: PgBinaries) -> ClusterState:
        port = self.requested_port or DEFAULT_PORT
        if not port_free(port):
            raise ToolkitError(f"port {port} on 127.0.0.1 is in use", hint="pass --port or set TOOLKIT_LOCAL_PORT")
        root = self._choose_data_root()
        data_dir = root / "data"
        if data_dir.exists():
            shutil.rmtree(data_dir)  # a half-made cluster from an interrupted `up`
        for folder in (root, root / "run"):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._own(folder)
        preload = [e for e in PRELOADABLE if bins.has_extension(e)]
        state = ClusterState(
            port=port, data_root=str(root), password=secrets.token_urlsafe(18),
            admin_password=secrets.token_urlsafe(18), major=bins.major, bindir=str(bins.bindir), preload=preload,
        )
        pwfile = root / "run" / "pwfile"
        pwfile.write_text(state.admin_password + "\n")
        pwfile.chmod(0o600)
        self._own(pwfile)
        try:
            self._run(
                [bins.program("initdb"), "-D", str(data_dir), "-U", ADMIN_USER, f"--pwfile={pwfile}",
                 "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C",
                 "--no-sync", "--no-instructions"],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = dict(SERVER_SETTINGS, port=str(port), unix_socket_directories=f"'{root / 'run'}'")
        if preload:
            settings["shared_preload_libraries"] = "'" + ",".join(preload) + "'"
        if "pg_cron" in preload:
            settings["cron.database_name"] = f"'{CRON_DATABASE}'"
            # pg_cron connects over the socket (trust, and reachable only by the server user).
            settings["cron.host"] = f"'{root / 'run'}'"
        conf = "\n# Written by toolkit local up\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        with open(data_dir / "postgresql.conf", "a") as fh:
            fh.write(conf)
        self._save(state)
        return state

    def _start(self, state: ClusterState) -> None:
        if not port_free(state.port):
            raise ToolkitError(f"port {state.port} on 127.0.0.1 is taken by another program",
                               hint="stop it, or `toolkit local reset --port N`")
        proc = self._run(
            [str(Path(state.bindir) / "pg_ctl"), "-D", str(state.data_dir), "-l", str(state.log_file),
             "-w", "-t", "60", "start"],
            "starting the local cluster", check=False,
        )
        if proc.returncode != 0:
            tail = ""
            if state.log_file.exists():
                tail = "\n".join(state.log_file.read_text(errors="replace").splitlines()[-10:])
            raise ToolkitError(f"the local cluster did not start: {proc.stderr.strip()}\n{tail}".strip())

    def down(self) -> dict:
        state = self._stored()
        if state is None or self.pid() is None:
            return {"action": "not running", "home": str(self.home)}
        self._net_worker(state).stop()
        self.realtime(state).stop()
        self._run([str(Path(state.bindir) / "pg_ctl"), "-D", str(state.data_dir), "-m", "fast", "-w", "stop"],
                  "stopping the local cluster")
        return {"action": "stopped", "home": str(self.home)}

    def destroy(self) -> None:
        state = self._stored()
        self.down()
        if state is not None:
            shutil.rmtree(state.data_dir, ignore_errors=True)
            shutil.rmtree(state.socket_dir, ignore_errors=True)
            state.log_file.unlink(missing_ok=True)
            self._net_worker(state).log_file.unlink(missing_ok=True)
            self.realtime(state).log_file.unlink(missing_ok=True)
            self.state_file.unlink(missing_ok=True)
            root = Path(state.data_root)
            if root != self.home:  # the folder made under FALLBACK_ROOT for this cluster alone
                try:
                    root.rmdir()
                except OSError:
                    pass  # not empty: someone put something there; leave it

    # -- roles and databases ---------------------------------------------------------------
    def _build_roles(self, state: ClusterState) -> None:
        """The hosted roles, once per cluster; the bootstrap superuser is the only one left."""
        import psycopg

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            with conn.transaction():
                conn.execute("SELECT set_config('toolkit.postgres_password', %s, true)", [state.password])
                conn.execute((SQL_DIR / "hosted_roles.sql").read_text())

    def bootstrap_database(self, dbname: str, example: Path | None = None) -> None:
        """The platform's part of a hosted project (the Supabase compatibility layer and the
        extensions present, built by the superuser), then optionally the example app, which
        is the project owner's: its tables and cron jobs belong to postgres, as they do when
        a dashboard user created them."""
        import psycopg

        state = self._existing()
        with psycopg.connect(self.admin_conninfo(dbname), autocommit=True) as conn:
            with conn.transaction():
                conn.execute((SQL_DIR / "supabase_compat.sql").read_text())
                if "pg_cron" in state.preload and dbname in (CRON_DATABASE, CRON_TEST_DATABASE):
                    conn.execute((SQL_DIR / "pg_cron.sql").read_text())
                if "plpgsql_check" in state.preload:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check WITH SCHEMA extensions")
                # No pg_net package exists for this machine: its stand-in's schema net, as
                # a project that enabled pg_net has it (the worker is started separately).
                install_pg_net(conn)
        if example is None:
            return
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            with conn.transaction():
                conn.execute((example / "schema.sql").read_text())
                cron = conn.execute("SELECT to_regnamespace('cron') IS NOT NULL").fetchone()[0]
                if cron:
                    conn.execute((example / "cron_jobs.sql").read_text())

    def create_database(self, dbname: str, template: str | None = None) -> None:
        """As postgres (CREATEDB, as hosted), which then owns it: it may clone and drop it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
            if template:
                stmt += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
            conn.execute(stmt)

    def drop_database(self, dbname: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def _url(user: str, password: str, port: int, dbname: str) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port}/{dbname}?sslmode=disable"
