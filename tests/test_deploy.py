"""Deploying to a "hosted" target: the local cluster's database, the Management API stand-in as
the project's API, and a local gateway where the project's functions answer (--functions-url).
The real Supabase CLI, pointed at the same stand-in with --profile, is the reference for what a
deploy uploads and what `secrets list` shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, requires_deno
from tests.supabase_cli import supabase_cli
from toolkit import edge
from toolkit.cli import app
from toolkit.config import load_plan
from toolkit.dev import gateway
from toolkit.dev.jwt import local_jwt_secret
from toolkit.dev.management_api import ManagementApiServer

TOKEN = "sbp_" + "5e" * 20
REF = "hostedprojectrefabcd"
NAMES = load_plan(ROOT / "phases.yaml").plan.names
JWT_SECRET = "deploy-tests-jwt-secret-0123456789abcdef"
SEED = ROOT / "tests" / "fixtures" / "PROGRESS.seed.md"
HEALTH, PROCESSOR, TRACK, UNTRACK = (NAMES.slug(b) for b in
                                     ("health-check", "queue-processor", "track-subscription", "untrack-subscription"))




pytestmark = requires_deno


@pytest.fixture(scope="module")
def standin():
    with ManagementApiServer(TOKEN, [REF]) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh(standin):
    standin.stand_in.reset()


class Hosted:
    """`toolkit` against the hosted target (in process, CliRunner)."""

    def __init__(self, db, standin, functions_url: str, plan: Path = ROOT / "phases.yaml", env: dict | None = None):
        self.db, self.standin, self.functions_url, self.plan = db, standin, functions_url, plan
        self.env = {"SUPABASE_ACCESS_TOKEN": TOKEN, **(env or {})}

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        base = ["--plan", str(self.plan), "--actor", "pytest", "--db-url", self.db.url, "--project-ref", REF,
                "--api-url", self.standin.url, "--functions-url", self.functions_url]
        return CliRunner().invoke(app, [*base, *args], input=input, env={**self.env, **(env or {})},
                                  catch_exceptions=False)


def serve(db, **kw):
    return gateway.serve(db.url, **{"names": NAMES, **kw}, port=None, jwt_secret=JWT_SECRET)


def records(db) -> dict[str, tuple]:
    if not db.scalar("SELECT to_regclass('toolkit.edge_deployments') IS NOT NULL"):
        return {}
    return {r[0]: r[1:] for r in db.rows(
        "SELECT slug, version, verify_ok FROM toolkit.edge_deployments WHERE place = %s", [REF])}


def ticked(progress: Path, line: str) -> bool:
    found = [l for l in progress.read_text().splitlines() if l.strip().endswith(line)]
    assert found, line
    return found[0].lstrip().startswith("- [x]")


# ---------------------------------------------------------------------------------------------
# The real Supabase CLI: same uploads, same secrets

def export_layout(dest: Path) -> Path:
    """The Supabase CLI's project layout of the plan's rendered functions."""
    functions = edge.render(ROOT / "templates" / "edge", NAMES, dest / "supabase" / "functions")
    lines = []
    for base in edge.function_names(ROOT / "templates" / "edge"):
        settings = edge.function_settings(ROOT / "templates" / "edge", base)
        lines += [f'[functions.{NAMES.slug(base)}]', f"verify_jwt = {str(settings.verify_jwt).lower()}",
                  'import_map = "./functions/deno.json"', ""]
    (dest / "supabase" / "config.toml").write_text('project_id = "toolkit-export"\n\n' + "\n".join(lines))
    return functions


def run_supabase(standin, tmp_path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"name": "stand-in", "api_url": standin.url, "dashboard_url": standin.url,
                                   "project_host": "stand-in.localhost"}))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SUPABASE_HOME": str(home / ".supabase"),
           "SUPABASE_ACCESS_TOKEN": TOKEN, "SUPABASE_NO_KEYRING": "1", "SUPABASE_TELEMETRY_DISABLED": "1",
           "DO_NOT_TRACK": "1", "NO_COLOR": "1"}
    done = subprocess.run([str(supabase_cli()), *args, "--project-ref", REF, "--profile", str(profile)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_supabase_cli_uploads_what_toolkit_edge_deploy_uploads(staleness_db, standin, tmp_path):
    export_layout(tmp_path / "export")
    run_supabase(standin, tmp_path, tmp_path / "export", "functions", "deploy", "--use-api")
    by_cli = {u.slug: u for u in standin.stand_in.uploads}
    assert set(by_cli) == {HEALTH, PROCESSOR, TRACK, UNTRACK}
    # Several functions: the CLI bundles each, then activates them all in one PUT.
    assert all(u.bundle_only for u in by_cli.values())
    assert ("PUT", f"/v1/projects/{REF}/functions") in standin.stand_in.requests
    listed = {f["slug"]: f for f in json.loads(json.dumps(
        [f.response() for f in standin.stand_in.projects[REF].functions.values()]))}
    assert {s: f["status"] for s, f in listed.items()} == {s: "ACTIVE" for s in by_cli}

    standin.stand_in.reset()
    hosted = Hosted(staleness_db, standin, "http://127.0.0.1:9/functions/v1")
    result = hosted("--yes", "edge", "deploy", "--no-verify")
    assert result.exit_code == 0, result.output
    by_toolkit = {u.slug: u for u in standin.stand_in.uploads}
    assert set(by_toolkit) == set(by_cli)
    for slug, cli in by_cli.items():
        ours = by_toolkit[slug]
        assert sorted(ours.files) == sorted(cli.files), slug        # the same paths ...
        assert ours.files == cli.files, slug                        # ... with the same bytes
        assert ours.metadata == cli.metadata, slug                  # entrypoint, import map, verify_jwt, name
        assert not ours.bundle_only
    assert by_toolkit[HEALTH].metadata["verify_jwt"] is False and by_toolkit[PROCESSOR].metadata["verify_jwt"] is True
    assert not any("_test.ts" in p or "/testing/" in p for u in by_toolkit.values() for p in u.files)
    assert set(records(staleness_db)) == set(by_cli)


def test_the_bundle_is_the_module_graph_deno_resolves(tmp_path):
    """The files the toolkit uploads for a function are exactly the local modules of its graph."""
    build = edge.render(ROOT / "templates" / "edge", NAMES, tmp_path / "functions")
    for slug in (HEALTH, PROCESSOR, TRACK):
        bundle = edge.bundle(build, slug, verify_jwt=True)
        info = subprocess.run([edge.deno_bin(), "info", "--json", f"{slug}/index.ts"], cwd=build,
                              capture_output=True, text=True, timeout=120)
        assert info.returncode == 0, info.stderr
        local = {Path(m["local"]).resolve().relative_to(build.resolve()).as_posix()
                 for m in json.loads(info.stdout)["modules"] if m.get("local", "").startswith(str(build.resolve()))}
        uploaded = {p.removeprefix(edge.UPLOAD_ROOT + "/") for p in bundle.files} - {edge.IMPORT_MAP}
        assert uploaded == local, slug


def test_supabase_secrets_list_shows_what_toolkit_secrets_set_stored(db, standin, tmp_path):
    hosted = Hosted(db, standin, "http://127.0.0.1:9/functions/v1")
    value = "market-key-" + uuid.uuid4().hex
    assert hosted("--yes", "secrets", "set", "MARKET_DATA_API_KEY", "--stdin", input=value + "\n").exit_code == 0
    assert hosted("--yes", "secrets", "set", "MARKET_DATA_BASE_URL", "--from-env", "URL_VAR",
                  env={"URL_VAR": "https://example.test/stable"}).exit_code == 0
    assert standin.stand_in.secret_value(REF, "MARKET_DATA_API_KEY") == value
    ours = json.loads(hosted("--json", "secrets", "list").stdout)
    theirs = json.loads(run_supabase(standin, tmp_path, tmp_path, "secrets", "list", "-o", "json").stdout)
    assert [(s["name"], s["digest"]) for s in ours] == [(s["name"], s["value"]) for s in theirs]
    assert [s["name"] for s in theirs] == ["MARKET_DATA_API_KEY", "MARKET_DATA_BASE_URL"]

    refused = hosted("--yes", "secrets", "set", "SUPABASE_URL", "--stdin", input="x\n")
    assert refused.exit_code == 2 and "SUPABASE_" in refused.stderr
    assert hosted("--yes", "secrets", "unset", "MARKET_DATA_BASE_URL").exit_code == 0
    assert [s["name"] for s in json.loads(hosted("--json", "secrets", "list").stdout)] == ["MARKET_DATA_API_KEY"]


# ---------------------------------------------------------------------------------------------
# phase apply / verify / revert against the hosted target

def test_phase_apply_0_deploys_records_and_verifies_the_health_check(db, standin, tmp_path, monkeypatch):
    monkeypatch.setattr("toolkit.deploy.VERIFY_WAIT_S", 1.0)  # the probe's patience with a hosted project
    progress = tmp_path / "PROGRESS.md"
    shutil.copy(SEED, progress)
    with serve(db) as functions:
        hosted = Hosted(db, standin, functions.functions_url, env={"TOOLKIT_PROGRESS": str(progress)})
        applied = hosted("--yes", "phase", "apply", "0")
        assert applied.exit_code == 0, applied.output
        assert f"{HEALTH}" in applied.stdout and "deployed (version 1)" in applied.stdout
        deployed = standin.stand_in.projects[REF].functions[HEALTH]
        assert deployed.verify_jwt is False and deployed.status == "ACTIVE"
        assert records(db) == {HEALTH: (1, True)}
        assert db.scalar("SELECT deployed_by FROM toolkit.edge_deployments") == "pytest"
        assert ticked(progress, "Set up health check Edge Function")

        verified = hosted("--json", "phase", "verify", "0")
        assert verified.exit_code == 0, verified.output
        assert {r["step"]: r["result"] for r in json.loads(verified.stdout)}["health_check"] == "pass"
        assert hosted("--yes", "phase", "apply", "0").exit_code == 0     # applied: a no-op
        assert standin.stand_in.projects[REF].functions[HEALTH].version == 1

    # The functions stop answering: verify fails and names it; the tick now contradicts the
    # database, which sync reports (the document keeps the tick until --fix, as for any tick).
    failed = hosted("--json", "phase", "verify", "0")
    assert failed.exit_code == 1
    row = {r["step"]: r for r in json.loads(failed.stdout)}["health_check"]
    assert row["result"] == "fail" and "did not answer" in row["message"]
    assert records(db) == {HEALTH: (1, False)}
    checked = hosted("progress", "sync", "--check")
    assert checked.exit_code == 1 and "Set up health check Edge Function" in checked.stderr, checked.stderr
    assert hosted("progress", "sync", "--fix").exit_code == 0
    assert not ticked(progress, "Set up health check Edge Function")


def test_task_lines_tick_only_for_functions_deployed_and_verified(db, standin, tmp_path):
    progress = tmp_path / "PROGRESS.md"
    shutil.copy(SEED, progress)
    standin.stand_in.refuse_deploys(TRACK, 400)
    with serve(db) as functions:
        hosted = Hosted(db, standin, functions.functions_url, env={"TOOLKIT_PROGRESS": str(progress)})
        applied = hosted("--yes", "phase", "apply", "0..3")
        assert applied.exit_code == 2, applied.output
        assert f"{TRACK}: deploying function {TRACK}" in applied.stderr and "refused (400" in applied.stderr
        # Reported per function; the record says exactly what runs: the others are deployed.
        assert set(records(db)) == {HEALTH, PROCESSOR, UNTRACK}
        assert set(standin.stand_in.projects[REF].functions) == {HEALTH, PROCESSOR, UNTRACK}
        assert ticked(progress, "Set up health check Edge Function")
        assert ticked(progress, "Create `queue-processor-v2` Edge Function")
        assert not ticked(progress, "Create `track-subscription-v2` Edge Function")

        standin.stand_in.refused_slugs.clear()
        again = hosted("--yes", "edge", "deploy", TRACK)
        assert again.exit_code == 0, again.output
        assert records(db)[TRACK] == (1, True)
        assert ticked(progress, "Create `track-subscription-v2` Edge Function")

        # The platform runs a function the toolkit did not deploy (someone used the dashboard):
        # drift, and its verify fails.
        bundle_files = standin.stand_in.projects[REF].functions[PROCESSOR].files
        standin.stand_in.projects[REF].functions[PROCESSOR].version += 1
        listing = hosted("--json", "edge", "list")
        assert listing.exit_code == 1
        row = {r["function"]: r for r in json.loads(listing.stdout)}[PROCESSOR]
        assert row["state"] == "drift" and "version 2 runs" in row["drift"][0]
        assert bundle_files


def test_edge_list_shows_a_changed_template_as_drift(staleness_db, standin, project):
    hosted = Hosted(staleness_db, standin, "http://127.0.0.1:9/functions/v1", plan=project / "phases.yaml")
    assert hosted("--yes", "edge", "deploy", HEALTH, "--no-verify").exit_code == 0
    clean = hosted("--json", "edge", "list")
    assert clean.exit_code == 0, clean.output
    rows = {r["function"]: r for r in json.loads(clean.stdout)}
    assert rows[HEALTH]["state"] == "applied" and rows[HEALTH]["status"] == "ACTIVE"
    assert rows[PROCESSOR]["state"] == "new"
    handler = project / "templates/edge/health-check/handler.ts"
    handler.write_text(handler.read_text() + "\n// changed\n")
    drifted = hosted("--json", "edge", "list")
    assert drifted.exit_code == 1
    assert {r["function"]: r["state"] for r in json.loads(drifted.stdout)}[HEALTH] == "drift"


def test_required_secrets_warn_and_fail_with_strict(staleness_db, standin):
    hosted = Hosted(staleness_db, standin, "http://127.0.0.1:9/functions/v1")
    strict = hosted("--yes", "edge", "deploy", PROCESSOR, "--no-verify", "--strict")
    assert strict.exit_code == 1
    assert "MARKET_DATA_API_KEY" in strict.stderr and "MARKET_DATA_BASE_URL" in strict.stderr
    for name in ("MARKET_DATA_API_KEY", "MARKET_DATA_BASE_URL"):
        assert hosted("--yes", "secrets", "set", name, "--stdin", input="v\n").exit_code == 0
    assert hosted("--yes", "edge", "deploy", PROCESSOR, "--no-verify", "--strict").exit_code == 0


# ---------------------------------------------------------------------------------------------
# The guard

def test_the_guard_changes_nothing_unless_the_ref_is_typed(db, standin, monkeypatch):
    with serve(db) as functions:
        hosted = Hosted(db, standin, functions.functions_url)
        assert hosted("--yes", "phase", "apply", "0").exit_code == 0
    before = (records(db), set(standin.stand_in.projects[REF].functions), db.scalar("SELECT count(*) FROM toolkit.ledger"))

    # No TTY, no --yes: exit 2, nothing changed.
    refused = hosted("phase", "revert", "0")
    assert refused.exit_code == 2 and "needs confirmation" in refused.stderr
    assert REF in refused.stderr and "127.0.0.1" in refused.stderr and "delete Edge Functions" in refused.stderr
    for destructive in (("edge", "delete", HEALTH), ("secrets", "unset", "X_KEY")):
        assert hosted(*destructive).exit_code == 2
    assert (records(db), set(standin.stand_in.projects[REF].functions),
            db.scalar("SELECT count(*) FROM toolkit.ledger")) == before

    # A terminal, and a wrong ref typed: nothing changes either.
    monkeypatch.setattr("toolkit.cli.context._interactive", lambda: True)
    wrong = hosted("phase", "revert", "0", input="abcdefghijklmnopqrst\n")
    assert wrong.exit_code == 2 and "did not match" in wrong.stderr
    assert (records(db), set(standin.stand_in.projects[REF].functions),
            db.scalar("SELECT count(*) FROM toolkit.ledger")) == before

    right = hosted("phase", "revert", "0", input=REF + "\n")
    assert right.exit_code == 0, right.output
    assert records(db) == {} and HEALTH not in standin.stand_in.projects[REF].functions
    assert db.scalar("SELECT to_regclass('public.feature_flags')") is None


def test_a_database_of_another_project_is_refused(db, standin):
    other = db.url.replace("postgres:", "postgres.abcdefghijklmnopqrst:", 1)
    hosted = Hosted(db, standin, "http://127.0.0.1:9/functions/v1")
    result = CliRunner().invoke(app, ["--plan", str(ROOT / "phases.yaml"), "--db-url", other, "--project-ref", REF,
                                      "--api-url", standin.url, "--yes", "phase", "apply", "0"],
                                env=hosted.env, catch_exceptions=False)
    assert result.exit_code == 2 and "abcdefghijklmnopqrst" in result.stderr and REF in result.stderr
    assert standin.stand_in.requests == []
    assert db.scalar("SELECT to_regclass('toolkit.ledger')") is None


# ---------------------------------------------------------------------------------------------
# Secrets stay secret

def test_a_secret_never_shows_in_output_logs_records_or_the_process_list(db, standin, tmp_path, cluster):
    value = "topsecret-" + uuid.uuid4().hex
    env = {**os.environ, "SUPABASE_ACCESS_TOKEN": TOKEN, "NO_COLOR": "1", "TOOLKIT_ACTOR": "pytest"}
    base = [sys.executable, "-m", "toolkit", "--plan", str(ROOT / "phases.yaml"), "--db-url", db.url,
            "--project-ref", REF, "--api-url", standin.url, "--yes"]
    seen = []
    setter = subprocess.Popen([*base, "-v", "--json", "secrets", "set", "MARKET_DATA_API_KEY", "--stdin"], env=env,
                              cwd=tmp_path,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    setter.stdin.write(value + "\n")
    setter.stdin.flush()
    time.sleep(0.5)  # the toolkit waits for the end of its input: look at every process meanwhile
    seen.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
    out, err = setter.communicate(timeout=60)
    assert setter.returncode == 0, err
    seen += [out, err]
    assert standin.stand_in.secret_value(REF, "MARKET_DATA_API_KEY") == value
    again = subprocess.run([*base, "secrets", "set", "MARKET_DATA_API_KEY", "--from-env", "THE_KEY"],
                           env={**env, "THE_KEY": value}, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "updated" in again.stdout, again.stderr
    seen += [again.stdout, again.stderr]

    with serve(db, api_key=value, market_data_url="http://127.0.0.1:9") as functions:
        for args in (["phase", "apply", "0..2"], ["--json", "secrets", "list"], ["edge", "list"],
                     ["phase", "verify", "2"]):
            done = subprocess.run([*base, "--functions-url", functions.functions_url, "-v", *args], env=env,
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode in (0, 1), done.stderr
            seen += [done.stdout, done.stderr]
        seen.append(functions.log())
    seen.append(db.schema_dump("toolkit"))
    dump = subprocess.run([str(Path(cluster.state().bindir) / "pg_dump"), "--data-only", "-n", "toolkit", "-d", db.url],
                          capture_output=True, text=True, check=True).stdout
    assert "edge_deployments" in dump and HEALTH in dump
    seen.append(dump)
    seen.append(cluster.state().log_file.read_text(errors="replace"))
    assert all(value not in text for text in seen)
    assert any(value[:8] in text for text in seen) is False
    # The digest is what `list` shows instead.
    import hashlib
    assert any(hashlib.sha256(value.encode()).hexdigest() in text for text in seen)


# ---------------------------------------------------------------------------------------------
# invoke, through the supabase client

def test_edge_invoke_as_anon_user_and_service_on_the_local_gateway(staleness_db, project):
    secret = local_jwt_secret(project)
    with gateway.serve(staleness_db.url, names=NAMES, port=None, jwt_secret=secret) as functions:
        def invoke(*args):
            return CliRunner().invoke(app, ["--plan", str(project / "phases.yaml"), "--functions-url",
                                            functions.functions_url, "--json", "edge", "invoke", *args],
                                      catch_exceptions=False)

        health = invoke("health-check", "--as", "anon")
        assert health.exit_code == 0, health.output
        assert json.loads(health.stdout)["body"]["status"] == "ok"
        body = json.dumps({"symbol": "AAPL", "dataTypes": ["quote"]})
        anon = invoke("track-subscription", "--as", "anon", "--json", body)
        assert anon.exit_code == 1 and json.loads(anon.stdout)["status"] == 401
        user = invoke("track-subscription", "--as", "user", "--json", body)
        assert user.exit_code == 0, user.output
        assert json.loads(user.stdout)["body"]["tracked"] is True


def test_edge_invoke_on_a_project_takes_its_keys_from_the_environment(staleness_db, standin):
    from toolkit.dev.jwt import mint_jwt

    with serve(staleness_db) as functions:
        hosted = Hosted(staleness_db, standin, functions.functions_url, env={
            "SUPABASE_ANON_KEY": mint_jwt(JWT_SECRET, role="anon"),
            "SUPABASE_SERVICE_ROLE_KEY": mint_jwt(JWT_SECRET, role="service_role"),
            "SUPABASE_USER_JWT": mint_jwt(JWT_SECRET, role="authenticated", sub=str(uuid.uuid4()))})
        body = json.dumps({"symbol": "MSFT", "dataTypes": ["quote"]})
        assert hosted("edge", "invoke", HEALTH, "--as", "anon").exit_code == 0
        as_service = hosted("--json", "edge", "invoke", TRACK, "--as", "service", "--json", body)
        assert as_service.exit_code == 1 and json.loads(as_service.stdout)["status"] == 401  # no user in it
        as_user = hosted("--json", "edge", "invoke", TRACK, "--as", "user", "--json", body)
        assert as_user.exit_code == 0 and json.loads(as_user.stdout)["body"]["tracked"] is True
        missing = hosted("edge", "invoke", HEALTH, "--as", "anon", env={"SUPABASE_ANON_KEY": ""})
        assert missing.exit_code == 2 and "SUPABASE_ANON_KEY" in missing.stderr
    assert standin.stand_in.requests == []  # invoking is the functions' business, not the Management API's


def test_a_project_ref_with_a_local_database_keeps_the_plans_scheduler_mode(db, standin):
    """The scheduler mode follows the database: pg_cron and pg_net run there, not in the
    project the functions go to."""
    hosted = Hosted(db, standin, "http://127.0.0.1:9/functions/v1")
    shown = json.loads(hosted("--json", "phase", "plan", "3").stdout)
    assert {s["step"]: s["state"] for s in shown}["enable_pg_net"] == "not applicable"
    pooled = db.url.replace("postgres:", f"postgres.{REF}:", 1)  # the pooler's user form: project REF's database
    result = CliRunner().invoke(app, ["--plan", str(ROOT / "phases.yaml"), "--db-url", pooled, "--json",
                                      "phase", "render", "3"], catch_exceptions=False)
    assert any(r["step"] == "enable_pg_net" for r in json.loads(result.stdout))


def test_the_final_migration_moves_a_projects_functions_and_its_revert_moves_them_back(db, standin):
    from toolkit.names import Names

    renamed = {b: Names("").slug(b) for b in ("health-check", "queue-processor", "track-subscription",
                                               "untrack-subscription")}
    moved = {NAMES.slug(b): slug for b, slug in renamed.items() if NAMES.slug(b) != slug}
    functions = standin.stand_in.projects[REF].functions
    with serve(db) as before:
        assert Hosted(db, standin, before.functions_url)("--yes", "phase", "apply", "0..3").exit_code == 0
    assert set(functions) == {HEALTH, PROCESSOR, TRACK, UNTRACK}

    # Phase 6 (forced: this test promotes no type): the functions go under their new slugs, and
    # each old slug answers with a pointer to its new one.
    with serve(db, names=Names(""), moved=moved) as after:
        applied = Hosted(db, standin, after.functions_url)(
            "--yes", "phase", "apply", "6", "--force", "--reason", "a drill of the rename")
        assert applied.exit_code == 0, applied.output
    assert set(functions) == set(renamed.values()) | set(moved)
    for old, new in moved.items():
        files = functions[old].files
        assert any(b"movedHandler" in content and new.encode() in content for content in files.values()), old
        assert not any(b"movedHandler" in content for content in functions[new].files.values()), new
    assert set(records(db)) == set(functions)

    # Its revert: the functions under the old slugs again, those Phase 6 made removed.
    with serve(db) as before:
        reverted = Hosted(db, standin, before.functions_url)("--yes", "phase", "revert", "6")
        assert reverted.exit_code == 0, reverted.output
    assert set(functions) == {HEALTH, PROCESSOR, TRACK, UNTRACK}
    assert not any(b"movedHandler" in content for f in functions.values() for content in f.files.values())
    assert set(records(db)) == set(functions)
