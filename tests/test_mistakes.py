"""Every mistake a user is likely to make gets one clear line naming the cause, a non-zero exit
at once, and changes nothing. Each runs `toolkit` as a separate process, as a user would; the
subprocess timeout is only a generous guard against a hang, not a timing claim."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import ROOT
from toolkit.cli import hoist_global_options

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"
HANG_GUARD = 60  # seconds: far above the second each of these takes


def toolkit(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=HANG_GUARD,
                          stdin=subprocess.DEVNULL, cwd=cwd, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300", **(env or {})})


def refused(result: subprocess.CompletedProcess, *cause: str, started: str | None = None) -> str:
    """Exit 2, nothing on stdout, and one `error:` line naming the cause (a `hint:` line may follow);
    `started`: the status line of a command that had begun its work, said before."""
    lines = result.stderr.strip().splitlines()
    if started is not None:
        assert lines[0].startswith(started), lines
        lines = [line for line in lines[1:] if not line.startswith("  ")]  # what the status said would change
    assert result.returncode == 2, result
    assert result.stdout == "" and "Traceback" not in result.stderr, result
    assert lines[0].startswith("error: ") and len(lines) <= 2, lines
    assert all(line.startswith("hint: ") for line in lines[1:]), lines
    for words in cause:
        assert words in lines[0], lines
    return lines[0]


def _rollout_snapshot(db) -> tuple:
    return (db.scalar("SELECT to_regnamespace('toolkit') IS NOT NULL AND (SELECT count(*) FROM toolkit.ledger) > 0"),
            db.scalar("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"))


# -- the files the toolkit reads ------------------------------------------------------------------

def test_deeply_nested_yaml_in_the_plan(project):
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace("  suffix: _v2\n", "  suffix: _v2\n  deep: " + "[" * 5000 + "]" * 5000 + "\n"))
    before = plan.read_bytes()
    line = 1 + plan.read_text().split("\n").index(next(l for l in plan.read_text().split("\n") if l.startswith("  deep:")))
    refused(toolkit("--plan", str(plan), "phase", "list"), f"{plan}:{line}: nested more than 50 levels deep")
    assert plan.read_bytes() == before


def test_a_yaml_bomb_as_the_plan(tmp_path):
    bomb = "version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for prev, name in zip("abcdefgh", "bcdefghi"):
        bomb += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    plan = tmp_path / "phases.yaml"
    plan.write_text(bomb)
    refused(toolkit("--plan", str(plan), "phase", "list"), "expands to more than 200,000 values through its aliases")


@pytest.mark.parametrize("plan, cause", [
    ("/dev/zero", "is not a regular file"),
    ("{tmp}", "is a folder"),
    ("{tmp}/huge.yaml", "is larger than 1000 kB"),
], ids=["dev-zero", "folder", "too-large"])
def test_a_plan_that_is_no_plan_file_is_refused_before_it_is_read(tmp_path, plan, cause):
    (tmp_path / "huge.yaml").write_text("version: 1\n" + "# padding\n" * 200_000)
    refused(toolkit("--plan", plan.format(tmp=tmp_path), "phase", "list"), cause)


def test_a_24_mb_progress_md(db, tmp_path):
    document = tmp_path / "PROGRESS.md"
    with document.open("wb") as fh:
        fh.write(SEED.read_bytes())
        fh.truncate(24_000_000)
    before = document.stat()
    refused(toolkit("--db-url", db.url, "progress", "sync", env={"TOOLKIT_PROGRESS": str(document)}),
            f"{document}:1: is 24.0 MB; a PROGRESS.md is at most 2 MB")
    after = document.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_toolkit_progress_pointing_at_a_folder(db, tmp_path):
    result = toolkit("--db-url", db.url, "phase", "apply", "0", env={"TOOLKIT_PROGRESS": str(tmp_path)})
    refused(result, f"TOOLKIT_PROGRESS points at a folder ({tmp_path}), not at a document")
    assert db.scalar("SELECT to_regnamespace('toolkit')") is None  # refused before anything ran
    assert os.listdir(tmp_path) == []


# -- the environment and the command line -----------------------------------------------------------

def test_toolkit_local_port_that_is_no_port(tmp_path):
    refused(toolkit("status", env={"TOOLKIT_LOCAL_PORT": "notaport"}, cwd=tmp_path),
            "TOOLKIT_LOCAL_PORT must be a port number (1-65535), got 'notaport'")
    assert not (tmp_path / ".toolkit").exists() and not Path(os.environ["TOOLKIT_STATE_DIR"]).exists()


def test_local_reset_names_the_command_that_works_and_that_command_is_accepted(tmp_path):
    hint = toolkit("local", "reset", cwd=tmp_path).stderr.strip().splitlines()[-1]
    assert hint == "hint: run `toolkit local reset --yes`"
    # `--yes` after the subcommand is taken (the bad port stops it before it touches anything).
    refused(toolkit("local", "reset", "--yes", env={"TOOLKIT_LOCAL_PORT": "notaport"}, cwd=tmp_path),
            "TOOLKIT_LOCAL_PORT must be a port number")
    assert not Path(os.environ["TOOLKIT_STATE_DIR"]).exists()


def test_json_after_the_subcommand(queue_db):
    result = toolkit("queue", "status", "--json", "--db-url", queue_db.url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["pending"] == 0


@pytest.mark.parametrize("args, expected", [
    (["queue", "status", "--json"], ["--json", "queue", "status"]),
    (["local", "reset", "--yes", "--port", "5"], ["--yes", "local", "reset", "--port", "5"]),
    (["flags", "enable", "f", "--reason", "--json", "-v"], ["-v", "flags", "enable", "f", "--reason", "--json"]),
    (["sandbox", "stats", "--json"], ["sandbox", "stats", "--json"]),  # its own --json
    (["phase", "apply", "0", "--db-url", "postgresql://x"], ["--db-url", "postgresql://x", "phase", "apply", "0"]),
    (["--plan", "p.yaml", "status", "--", "--json"], ["--plan", "p.yaml", "status", "--", "--json"]),
])
def test_global_options_move_in_front_of_the_subcommand(args, expected):
    from typer.main import get_command

    from toolkit.cli import app

    group = get_command(app)
    assert hoist_global_options(group, group.make_context("toolkit", ["--help"], resilient_parsing=True), args) == expected


def test_a_priority_out_of_range(queue_db):
    refused(toolkit("--db-url", queue_db.url, "queue", "enqueue", "AAPL", "quote", "--priority", "99999999999"),
            "priority 99999999999 is out of range (-1000000 to 1000000)")
    assert queue_db.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 0


def test_edge_serve_on_a_busy_port(db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = toolkit("--db-url", db.url, "edge", "serve", "--port", str(port))
    refused(result, f"port {port} on 127.0.0.1 is already in use")
    for said in ("Edge Functions at", "token", "Bearer", "AddrInUse", "error: Uncaught"):
        assert said not in result.stderr
    assert not Path(os.environ["TOOLKIT_STATE_DIR"]).exists()  # no JWT secret made, nothing started


# -- a database that goes away ---------------------------------------------------------------------

class Proxy:
    """A TCP relay to the database whose connections can be cut at once, as a network or a
    killed server cuts them."""

    def __init__(self, port: int):
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(a, b), daemon=True).start()

    @staticmethod
    def _relay(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        with suppress(OSError):
            b.shutdown(socket.SHUT_WR)  # one side closed: so does the other, as TCP would tell it

    def cut(self) -> None:
        pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the relay threads blocked in recv
                sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@contextmanager
def slow_apply(db, project: Path, via: str):
    """`phase apply 0` running in the background, waiting in its first step's pg_sleep."""
    deploy = project / "templates/sql/phase0/ops_events/deploy.sql"
    deploy.write_text("SELECT pg_sleep(60);\n" + deploy.read_text())
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "--plan", str(project / "phases.yaml"), "--db-url", via,
                             "phase", "apply", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300"})
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not db.scalar("SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'SELECT pg_sleep(60)%%'",
                            [db.name]):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        yield proc
    finally:
        proc.kill()
        proc.wait()
        # The cut connection's backend sleeps on, unaware: end it so the database can go. Only
        # our own role's: a superuser's backend in this database now and then (a background
        # worker's) cannot be ended by the non-superuser postgres, and is not ours to end.
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()", [db.name])


@pytest.mark.parametrize("how", ["backend-terminated", "connection-cut"])
def test_the_database_going_away_during_apply(db, project, how):
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    proxy = Proxy(int(conninfo_to_dict(db.url)["port"]))
    via = make_conninfo(db.url, host="127.0.0.1", port=str(proxy.port))
    try:
        with slow_apply(db, project, via) as proc:
            if how == "backend-terminated":
                db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND query LIKE 'SELECT pg_sleep(60)%%'", [db.name])
            else:
                proxy.cut()
            out, err = proc.communicate(timeout=HANG_GUARD)
            result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        proxy.close()
    cause = "terminating connection due to administrator command" if how == "backend-terminated" else "server closed"
    line = refused(result, "lost the connection to", "while applying", cause, "the server rolls back what was not committed",
                   started="applying phase 0 on ")
    assert "step ops_events failed" not in line
    assert db.scalar("SELECT count(*) FROM toolkit.ledger") == 0
    assert db.scalar("SELECT to_regclass('public.feature_flags')") is None
