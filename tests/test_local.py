"""`toolkit local ...`: a private cluster made from nothing, used as the default target."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, Cli, free_port
from toolkit.dev.processes import alive
from toolkit.dev.local.cluster import LocalCluster
from toolkit.errors import ToolkitError


@pytest.fixture
def local_project(project, monkeypatch):
    shutil.copytree(ROOT / "examples", project / "examples")
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(project / ".toolkit"))  # where the teardown looks
    yield project
    LocalCluster(project / ".toolkit" / "local").destroy()


def test_local_up_apply_status_down(local_project):
    cli = Cli(None, local_project / "phases.yaml")
    port = str(free_port())

    up = cli("--json", "local", "up", "--port", port)
    assert up.exit_code == 0, up.output
    info = json.loads(up.stdout)
    assert info["running"] and info["action"] == "created and started" and info["port"] == int(port)
    print(f"local up from nothing: {info['seconds']} s")

    worker = info["pg_net_worker"]  # the pg_net stand-in's worker runs with the cluster
    assert worker and alive(worker)
    # So does the Realtime stand-in, answering a heartbeat with a token of the local secret.
    realtime = LocalCluster(local_project / ".toolkit" / "local").realtime()
    realtime_pid = realtime.pid()
    assert realtime_pid and alive(realtime_pid) and info["realtime"].endswith(":%d/realtime/v1/websocket" % realtime.port())
    _heartbeat(info["realtime"], local_project / ".toolkit" / "local")

    again = cli("--json", "local", "up")
    assert again.exit_code == 0 and json.loads(again.stdout)["action"] == "already running"
    assert json.loads(again.stdout)["pg_net_worker"] == worker
    assert realtime.pid() == realtime_pid

    # Without --db-url every command targets the local cluster: the README's main job.
    assert cli("phase", "apply", "0..1").exit_code == 0
    status = cli("--json", "status")
    assert status.exit_code == 0, status.output
    phases = {p["phase"]: p for p in json.loads(status.stdout)["phases"]}
    assert phases[0]["state"] == "applied" and phases[0]["not_available"] == 0
    assert phases[1]["state"] == "applied" and phases[1]["verified"] is True
    assert phases[2]["state"] == "not started"
    assert phases[3]["state"] == "not started"
    assert phases[4]["state"] == "not started"  # the frontend module, applied by `phase apply 4`
    assert json.loads(status.stdout)["pg_cron"] is True
    # The connection every command uses by default: a hosted project's postgres, no superuser.
    assert (json.loads(status.stdout)["user"], json.loads(status.stdout)["superuser"]) == ("postgres", False)

    assert cli("local", "down").exit_code == 0
    assert not alive(worker) and not alive(realtime_pid)
    stopped = cli("--json", "local", "status")
    assert stopped.exit_code == 1 and json.loads(stopped.stdout)["running"] is False
    unreachable = cli("status")
    assert unreachable.exit_code == 2 and "toolkit local up" in unreachable.stderr

    # Started again, the data is still there.
    assert cli("local", "up").exit_code == 0
    assert cli("--json", "phase", "plan", "1").exit_code == 0


def _heartbeat(url: str, home: Path) -> None:
    from websockets.sync.client import connect

    from toolkit.dev.jwt import jwt_secret_in, mint_jwt

    with connect(f"{url}?apikey={mint_jwt(jwt_secret_in(home), role='anon')}&vsn=2.0.0", proxy=None) as ws:
        ws.send(json.dumps([None, "1", "phoenix", "heartbeat", {}]))
        assert json.loads(ws.recv(timeout=5)) == [None, "1", "phoenix", "phx_reply", {"status": "ok", "response": {}}]


def test_destroy_leaves_no_folder_behind(local_project):
    cluster = LocalCluster(local_project / ".toolkit" / "local", port=free_port())
    cluster.up()
    root = Path(cluster.state().data_root)
    cluster.destroy()
    assert cluster.state() is None and not (root / "data").exists()
    if root != cluster.home:  # as root, with a home the server user cannot reach (CI's case)
        assert not root.exists()


def test_local_cluster_has_the_supabase_layer_and_the_legacy_app(cluster):
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        roles = {r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')")}
        assert roles == {"anon", "authenticated", "service_role", "authenticator"}
        conn.execute("""SET request.jwt.claims = '{"sub": "6f1c1f5e-0000-4000-8000-000000000001", "role": "authenticated"}'""")
        assert str(conn.execute("SELECT auth.uid()").fetchone()[0]) == "6f1c1f5e-0000-4000-8000-000000000001"
        assert conn.execute("SELECT auth.role()").fetchone()[0] == "authenticated"
        conn.execute("SELECT vault.create_secret('s3cret', 'processor_key')")
        assert conn.execute("SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = 'processor_key'").fetchone()[0] == "s3cret"
        # Supabase's default privileges: a new table in public is open to the client roles.
        conn.execute("CREATE TABLE public.default_privs_probe (id int)")
        try:
            assert conn.execute("SELECT has_table_privilege('anon', 'public.default_privs_probe', 'INSERT')").fetchone()[0]
        finally:
            conn.execute("DROP TABLE public.default_privs_probe")
        jobs = conn.execute("SELECT count(*) FROM cron.job WHERE command LIKE '%legacy.refresh_data_type%'").fetchone()[0]
        assert jobs == 11
        assert conn.execute("SELECT count(*) FROM public.stock_quotes").fetchone()[0] > 0
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'shared_preload_libraries')").fetchall())
        assert settings["listen_addresses"] == "127.0.0.1"
        assert "pg_cron" in settings["shared_preload_libraries"]


def test_a_cluster_built_before_the_hosted_roles_is_told_to_reset(tmp_path):
    home = tmp_path / "local"
    home.mkdir()
    (home / "cluster.json").write_text(json.dumps({  # the state an earlier toolkit wrote
        "port": free_port(), "data_root": str(tmp_path / "data_root"), "password": "old", "major": 15,
        "bindir": "/usr/lib/postgresql/15/bin", "preload": []}))
    cluster = LocalCluster(home)
    with pytest.raises(ToolkitError) as err:
        cluster.conninfo()
    assert "postgres as its superuser" in err.value.message and "toolkit local reset" in err.value.hint
    cluster.destroy()  # what `toolkit local reset` does first
    assert cluster.state() is None


def test_port_in_use_is_a_clear_error(tmp_path, cluster):
    taken = cluster.state().port
    with pytest.raises(Exception) as err:
        LocalCluster(tmp_path / "other", port=taken).up()
    assert f"port {taken}" in str(err.value)


def test_missing_extensions_name_the_packages_to_install(cluster):
    state = cluster.state()
    state.preload = []
    assert LocalCluster._missing_extensions(state) == {
        "pg_cron": f"postgresql-{state.major}-cron",
        "plpgsql_check": f"postgresql-{state.major}-plpgsql-check",
    }
    assert LocalCluster._missing_extensions(cluster.state()) == {}


def test_demo_runs_the_main_job_on_a_fresh_local_stack(local_project, monkeypatch, tmp_path):
    shutil.copytree(ROOT / "checklists", local_project / "checklists")
    # Every completion corrects the size estimates (the plan's default samples a share of them),
    # so that the traffic surely changes the state verify must not compare.
    plan_file = local_project / "phases.yaml"
    text = plan_file.read_text()
    assert "estimate_sample_rate: 0.1 " in text
    plan_file.write_text(text.replace("estimate_sample_rate: 0.1 ", "estimate_sample_rate: 1.0 ", 1))
    document = tmp_path / "PROGRESS.md"
    document.write_bytes((ROOT / "tests/fixtures/PROGRESS.seed.md").read_bytes())
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(document))
    monkeypatch.setenv("TOOLKIT_LOCAL_PORT", str(free_port()))
    cli = Cli(None, local_project / "phases.yaml")
    result = cli("--json", "demo")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["queued"] == 191 and payload["completed"] == 191 and payload["due"] == 0
    assert payload["provider_calls"] == 20 * 11 + 1 + 10
    assert [p["state"] for p in payload["status"]["phases"][:4]] == ["applied"] * 4

    # After that traffic (which taught the queue real response sizes), every phase still
    # verifies, and PROGRESS.md keeps what it said.
    assert cli("progress", "sync").exit_code == 0
    statuses = [line for line in document.read_text(encoding="utf-8").splitlines() if line.startswith("**Status:**")]
    runtime = json.loads(cli("--json", "queue", "status").stdout)["runtime"]
    assert any(t["learned_bytes"] not in (None, t["configured_bytes"]) for t in runtime["types"]), runtime
    for phase in ("0", "1", "2", "3"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output
    assert [line for line in document.read_text(encoding="utf-8").splitlines() if line.startswith("**Status:**")] \
        == statuses
    status = json.loads(cli("--json", "status").stdout)
    assert [p["verified"] for p in status["phases"][:4]] == [True] * 4

