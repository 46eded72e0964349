"""`toolkit export supabase` held to the real Supabase CLI: `supabase db push` of the export
gives the schema `toolkit phase apply` gives, and after a new revision, the schema `phase
upgrade` gives; `supabase migration list` sees every exported file applied."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import ROOT, Cli, Database
from tests.revision_helpers import make_revisions
from tests.supabase_cli import supabase_cli


def _supabase(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The real CLI in the project folder, its home and telemetry kept inside the test's folder."""
    env = {**os.environ, "HOME": str(folder / ".home"), "DO_NOT_TRACK": "1", "SUPABASE_TELEMETRY_DISABLED": "1"}
    return subprocess.run([str(supabase_cli()), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def _push(folder: Path, db: Database) -> subprocess.CompletedProcess:
    return _supabase(folder, "db", "push", "--db-url", db.url, "--yes")


def _listed(folder: Path, db: Database) -> list[tuple[str, str]]:
    """(local, remote) versions as `supabase migration list` shows them."""
    done = _supabase(folder, "migration", "list", "--db-url", db.url)
    assert done.returncode == 0, done.stderr
    return re.findall(r"^\s*`?(\d{14})?`?\s*\|\s*`?(\d{14})?`?\s*\|", done.stdout, flags=re.MULTILINE)


def _schema(db: Database) -> str:
    """The whole database's schema but the two tools' own bookkeeping."""
    pg_dump = Path(db.cluster.state().bindir) / "pg_dump"
    out = subprocess.run([str(pg_dump), "--schema-only", "--no-owner", "-N", "toolkit", "-N", "supabase_migrations",
                          "-d", db.url], capture_output=True, text=True, check=True).stdout
    return "\n".join(l for l in out.splitlines() if not l.startswith(("-- Dumped", "\\restrict", "\\unrestrict")))


def _seeded(db: Database) -> tuple:
    """What the deploys seed from the plan's values (toolkit.param) and the cron jobs they schedule."""
    return (db.rows("SELECT data_type, target_table, ttl_seconds, priority, estimated_bytes, endpoints, feature_flag "
                    "FROM public.data_type_registry_v2 ORDER BY data_type"),
            db.rows("SELECT flag_name, enabled FROM public.feature_flags ORDER BY flag_name"),
            db.rows("SELECT to_jsonb(c) - 'updated_at' FROM public.queue_config_v2 AS c"),
            db.rows("SELECT jobname, schedule, command, active FROM cron.job WHERE jobname LIKE 'queue-%' ORDER BY jobname"))


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in (folder / "supabase/migrations").glob("*.sql")}


def _versions(folder: Path) -> list[str]:
    return sorted(p.name[:14] for p in (folder / "supabase/migrations").glob("*.sql"))


def test_db_push_of_the_export_gives_the_schema_apply_and_upgrade_give(db, staleness_db, project, tmp_path):
    pushed, applied = db, staleness_db          # a fresh database; one at phases 0-3 by `phase apply`
    folder = tmp_path / "app"
    cli = Cli(None, project / "phases.yaml")    # a private copy of the real plan (revisions come below)

    exported = cli("--json", "export", "supabase", str(folder), "--scheduler-mode", "external")
    assert exported.exit_code == 0, exported.output
    first = {p.name: p.read_text() for p in (folder / "supabase/migrations").glob("*.sql")}
    names = sorted(first)
    assert names[0].endswith("_toolkit_0001_initial.sql")
    assert any(n.endswith("_phase1_api_call_queue_r1.sql") for n in names) and any(n.endswith("_phase3_cron_jobs_r1.sql") for n in names)
    assert not any("enable_pg_net" in n for n in names)  # the postgres scheduler mode's step

    pushed_once = _push(folder, pushed)
    assert pushed_once.returncode == 0, pushed_once.stderr
    assert _schema(pushed) == _schema(applied)
    assert _seeded(pushed) == _seeded(applied)
    assert _listed(folder, pushed) == [(v, v) for v in _versions(folder)]

    # A new revision of a table step and of a function step: a second export only adds their
    # files, and pushing them does what `phase upgrade` does.
    made = make_revisions(project)
    again = cli("--json", "export", "supabase", str(folder), "--scheduler-mode", "external")
    assert again.exit_code == 0, again.output
    added = json.loads(again.stdout)["added"]
    assert [re.sub(r"^\d{14}_", "", n) for n in added] == [f"phase1_api_call_queue_r{made['api_call_queue'][1]}.sql",
                                                           f"phase2_get_queue_batch_r{made['get_queue_batch'][1]}.sql"]
    assert {p.name: p.read_text() for p in (folder / "supabase/migrations").glob("*.sql") if p.name in first} == first
    assert min(n[:14] for n in added) > max(n[:14] for n in first)
    # The same history as an export made from scratch now: revision 1 comes from the frozen copies.
    fresh = tmp_path / "fresh"
    assert cli("export", "supabase", str(fresh), "--scheduler-mode", "external").exit_code == 0
    assert _files(fresh) == _files(folder)
    unchanged = cli("--json", "export", "supabase", str(folder), "--scheduler-mode", "external")
    assert unchanged.exit_code == 0 and json.loads(unchanged.stdout)["added"] == []

    pushed_twice = _push(folder, pushed)
    assert pushed_twice.returncode == 0, pushed_twice.stderr
    upgraded = Cli(applied, project / "phases.yaml")("phase", "upgrade", "all")
    assert upgraded.exit_code == 0, upgraded.output
    assert _schema(pushed) == _schema(applied)
    assert "note text" in _schema(pushed)
    assert _listed(folder, pushed) == [(v, v) for v in _versions(folder)]


def test_export_writes_the_functions_and_their_verify_jwt(project, tmp_path):
    folder = tmp_path / "app"
    (folder / "supabase").mkdir(parents=True)
    (folder / "supabase/config.toml").write_text('project_id = "app"\n\n[functions.health-check]\nverify_jwt = false\n')
    result = Cli(None, project / "phases.yaml")("export", "supabase", str(folder))
    assert result.exit_code == 0, result.output
    functions = folder / "supabase/functions"
    assert sorted(p.name for p in functions.iterdir()) == [
        "_shared", "health-check", "queue-processor-v2", "track-subscription-v2", "untrack-subscription-v2"]
    assert (functions / "queue-processor-v2/index.ts").is_file() and not list(functions.rglob("*_test.ts"))
    assert json.loads((functions / "queue-processor-v2/deno.json").read_text())["imports"]["postgres"].startswith("npm:postgres@")
    assert 'SUFFIX = "_v2"' in (functions / "_shared/names.ts").read_text()
    config = tomllib.loads((folder / "supabase/config.toml").read_text())
    assert config["project_id"] == "app"
    assert {k: v["verify_jwt"] for k, v in config["functions"].items()} == {
        name: json.loads((ROOT / "templates/edge" / base / "config.json").read_text())["verify_jwt"]
        for name, base in (("health-check", "health-check"), ("queue-processor-v2", "queue-processor"),
                           ("track-subscription-v2", "track-subscription"),
                           ("untrack-subscription-v2", "untrack-subscription"))}
    # The hosted scheduler mode by default: the pg_net steps are there.
    assert any("_phase3_enable_pg_net_r1.sql" in p.name for p in (folder / "supabase/migrations").iterdir())

    (folder / "supabase/config.toml").write_text("[functions.health-check]\nverify_jwt = true\n")
    clash = Cli(None, project / "phases.yaml")("export", "supabase", str(folder))
    assert clash.exit_code == 2 and "health-check (verify_jwt = true, the function needs false)" in clash.stderr


def test_an_exported_migration_is_never_rewritten(project, tmp_path):
    folder = tmp_path / "app"
    cli = Cli(None, project / "phases.yaml")
    assert cli("export", "supabase", str(folder)).exit_code == 0
    before = {p.name: p.read_text() for p in (folder / "supabase/migrations").iterdir()}
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace("lock_timeout: 5s", "lock_timeout: 7s"))
    kept = cli("export", "supabase", str(folder))
    assert kept.exit_code == 1
    assert "supabase/migrations is history and was not rewritten; kept as exported" in " ".join(kept.stderr.split())
    assert {p.name: p.read_text() for p in (folder / "supabase/migrations").iterdir()} == before


def test_a_failing_verify_stops_the_push_at_its_migration(db, project, tmp_path):
    verify = project / "templates/sql/phase0/ops_events/verify.sql"
    verify.write_text(verify.read_text() + "SELECT toolkit.check(false, 'ops_events is never right');\n")
    folder = tmp_path / "app"
    assert Cli(None, project / "phases.yaml")("export", "supabase", str(folder), "--scheduler-mode", "external").exit_code == 0
    pushed = _push(folder, db)
    assert pushed.returncode != 0
    assert "verify failed: ops_events is never right" in pushed.stderr
    assert db.scalar("SELECT to_regclass('public.ops_events')") is None
    assert db.scalar("SELECT to_regclass('public.feature_flags')") is not None
