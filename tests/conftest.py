"""A real PostgreSQL for the whole session: one private cluster started by the tests,
a template database built once, and a fresh clone of it for every test that asks.

Every test connects as `postgres`, which is no superuser, as on a hosted project; only the
cluster's build (toolkit.dev.local) and `Database.as_platform` use its superuser."""

from __future__ import annotations

import hashlib
import itertools
import os
from contextlib import contextmanager
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.dev.local.cluster import CRON_TEST_DATABASE, LocalCluster
from toolkit.dev.processes import free_port, watchdog

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "legacy_app"
TEMPLATE_DB = CRON_TEST_DATABASE

# What bootstrap and the tools make inside the checkout: the only paths a test run may change.
# .toolkit/local's data, run and log entries belong to a developer's running local cluster.
BOOTSTRAP_MADE = (".git", ".venv", ".toolkit/tools", ".pytest_cache", "node_modules", "__pycache__",
                  ".toolkit/local/data", ".toolkit/local/run", ".toolkit/local/server.log",
                  ".toolkit/local/pg_net_worker.log", ".toolkit/local/pg_net_worker.pid")


def _made_by_bootstrap(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return rel in BOOTSTRAP_MADE or name in ("__pycache__", "node_modules") or name.endswith(".egg-info")


def checkout_files(root: Path = ROOT) -> dict[str, str]:
    """Every file of the checkout (tracked or not) and a digest of its bytes (a link: its target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root)
        dirs[:] = [d for d in dirs if not _made_by_bootstrap((base / d).as_posix())]
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            rel, path = (base / name).as_posix(), Path(folder) / name
            if _made_by_bootstrap(rel):
                continue
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            else:
                found[rel] = hashlib.sha1(path.read_bytes()).hexdigest()
    return found


def pytest_sessionstart(session):
    session.config._checkout_before = checkout_files()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when any file of the checkout changed: tests write only to their temporary folders."""
    before = getattr(session.config, "_checkout_before", None)
    if before is None:
        return
    after = checkout_files()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if not changed:
        return
    words = {True: "added", False: "removed"}
    lines = [f"  {p} ({words[p in after] if (p in before) != (p in after) else 'changed'})" for p in changed]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = ("the test run changed files of the checkout (tests must write only to their temporary folders; "
               "files you edited during the run show here too):\n" + "\n".join(lines))
    if reporter:
        reporter.write_sep("=", "checkout changed", red=True)
        reporter.write_line(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _private_paths(tmp_path, monkeypatch):
    """Every path the toolkit writes points into the test's temporary folder: PROGRESS.md and the
    workspace state (.toolkit), for CLI calls and library calls alike."""
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / ".toolkit"))


def _watch(cluster: LocalCluster):
    """Stop the cluster if the test process dies without running its teardown."""
    state = cluster.state()
    stop = [str(Path(state.bindir) / "pg_ctl"), "-D", str(state.data_dir), "-m", "immediate", "stop"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", "postgres", "--", *stop]
    return watchdog(cleanup=stop)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> LocalCluster:
    home = tmp_path_factory.mktemp("cluster") / "local"
    c = LocalCluster(home, port=free_port())
    c.up(bootstrap_example=EXAMPLE)
    watchdog = _watch(c)
    with psycopg.connect(c.conninfo(), autocommit=True) as conn:
        login = conn.execute("SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert login == ("postgres", False), f"the tests must connect as a hosted project's postgres, not {login}"
    c.create_database(TEMPLATE_DB)
    c.bootstrap_database(TEMPLATE_DB, example=EXAMPLE)
    yield c
    c.destroy()
    watchdog.send_signal(signal.SIGTERM)


@dataclass
class Database:
    name: str
    url: str
    cluster: LocalCluster

    def connect(self, **kw) -> psycopg.Connection:
        return psycopg.connect(self.url, **kw)

    def scalar(self, sql: str, params=None):
        with self.connect(autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

    def rows(self, sql: str, params=None) -> list[tuple]:
        with self.connect(autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params=None) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(sql, params)

    def admin_connect(self, **kw) -> psycopg.Connection:
        """The platform's own connection (the local superuser): for what only it may do."""
        return psycopg.connect(self.cluster.admin_conninfo(self.name), **kw)

    def as_platform(self, sql: str) -> None:
        """Run what on a hosted project the platform does as its superuser (enabling or
        disabling an extension from the dashboard), never what the toolkit does."""
        with psycopg.connect(self.cluster.admin_conninfo(self.name), autocommit=True) as conn:
            conn.execute(sql)

    def schema_dump(self, *schemas: str) -> str:
        state = self.cluster.state()
        args = [str(Path(state.bindir) / "pg_dump"), "--schema-only", "--no-owner", "-d", self.url]
        for s in schemas or ("public",):
            args += ["-n", s]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        # Drop what differs between two dumps of one schema: version lines and the random
        # key of pg_dump's \restrict guard.
        skip = ("-- Dumped", "\\restrict", "\\unrestrict")
        return "\n".join(l for l in out.splitlines() if not l.startswith(skip))


def _deno_missing() -> bool:
    from toolkit import edge

    try:
        edge.deno_bin()
        return False
    except Exception:
        return True


# Deno is a dependency (the `deno` package); a machine without its binary skips what runs it.
requires_deno = pytest.mark.skipif(_deno_missing(), reason="no Deno binary for this platform")


_counter = itertools.count()

# pg_cron revokes alter_job from PUBLIC; a hosted postgres may grant it on.
ALTER_JOB = "cron.alter_job(bigint, text, text, text, text, boolean)"


@contextmanager
def cron_owner(db: Database):
    """A role besides postgres that may own cron jobs in `db`, made as a hosted postgres can
    (CREATEROLE, and grant options on cron); postgres may SET ROLE to it. Dropped after."""
    name = f"cron_owner_{db.name}"
    db.execute(f'CREATE ROLE "{name}" NOLOGIN')
    db.execute(f'GRANT "{name}" TO postgres')
    db.execute(f'GRANT USAGE ON SCHEMA cron TO "{name}"')
    db.execute(f'GRANT EXECUTE ON FUNCTION {ALTER_JOB} TO "{name}"')
    try:
        yield name
    finally:
        db.execute(f'REVOKE EXECUTE ON FUNCTION {ALTER_JOB} FROM "{name}"')
        db.execute(f'REVOKE USAGE ON SCHEMA cron FROM "{name}"')
        db.execute(f'DROP ROLE "{name}"')


def give_job_to(db: Database, role: str, name: str) -> None:
    """The cron job `name` re-created by `role`, as when someone other than postgres made it."""
    with db.connect(autocommit=True) as conn:
        schedule, command, active = conn.execute(
            "SELECT schedule, command, active FROM cron.job WHERE jobname = %s", [name]).fetchone()
        conn.execute("SELECT cron.unschedule(%s::name)", [name])
        conn.execute(f'SET ROLE "{role}"')
        conn.execute("SELECT cron.schedule(%s, %s, %s)", [name, schedule, command])
        if not active:
            conn.execute("SELECT cron.alter_job(jobid, active := false) FROM cron.job WHERE jobname = %s", [name])


def _clone(cluster: LocalCluster, template: str):
    name = f"t_{os.getpid()}_{next(_counter)}"
    cluster.create_database(name, template=template)
    yield Database(name, cluster.conninfo(name), cluster)
    cluster.drop_database(name)


@pytest.fixture
def db(cluster) -> Database:
    """A fresh database: the Supabase layer and the legacy app, nothing of the rollout."""
    yield from _clone(cluster, TEMPLATE_DB)


def apply_phases(cluster: LocalCluster, dbname: str, phases: list[int]) -> None:
    from toolkit.config import load_plan
    from toolkit.db import target_from_url
    from toolkit.engine import Engine

    engine = Engine(load_plan(ROOT / "phases.yaml"), target_from_url(cluster.conninfo(dbname)), "pytest")
    engine.apply(phases)


def _template_with(cluster: LocalCluster, name: str, phases: list[int]) -> str:
    cluster.create_database(name, template=TEMPLATE_DB)
    apply_phases(cluster, name, phases)
    return name


@pytest.fixture(scope="session")
def queue_template(cluster) -> str:
    return _template_with(cluster, "tpl_queue", [0, 1, 2])


@pytest.fixture(scope="session")
def staleness_template(cluster) -> str:
    return _template_with(cluster, "tpl_staleness", [0, 1, 2, 3])


@pytest.fixture
def queue_db(cluster, queue_template) -> Database:
    """A fresh database with phases 0-2 applied."""
    yield from _clone(cluster, queue_template)


@pytest.fixture
def staleness_db(cluster, staleness_template) -> Database:
    """A fresh database with phases 0-3 applied (its cron jobs are recorded, never run)."""
    yield from _clone(cluster, staleness_template)


@pytest.fixture
def project(tmp_path) -> Path:
    """A private copy of the project's plan and templates, free to edit."""
    dest = tmp_path / "project"
    dest.mkdir()
    shutil.copy(ROOT / "phases.yaml", dest / "phases.yaml")
    shutil.copytree(ROOT / "templates", dest / "templates")
    return dest


@dataclass
class Cli:
    db: Database | None
    plan: Path

    def __call__(self, *args: str, input: str | None = None):
        for name in ("TOOLKIT_PROGRESS", "TOOLKIT_STATE_DIR"):  # set for every test by _private_paths
            assert ROOT not in Path(os.environ[name]).resolve().parents, f"{name} points into the checkout"
        base = ["--plan", str(self.plan), "--actor", "pytest"]
        if self.db is not None:
            base += ["--db-url", self.db.url]
        return CliRunner().invoke(app, [*base, *args], input=input, catch_exceptions=False)


@pytest.fixture
def cli(db) -> Cli:
    return Cli(db, ROOT / "phases.yaml")
