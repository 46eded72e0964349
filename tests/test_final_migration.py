"""Phase 6, the final migration, on a real PostgreSQL with pg_cron, as the hosted postgres: on a
database where all eleven types were migrated and promoted (through the migration state
machine, with a test plan whose bake time is a fraction of a second), the legacy jobs go
(snapshots kept), nothing keeps the suffix, every row stays, a full refresh cycle runs under the
new names through the real Edge Functions, and the revert restores names and jobs exactly."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
import uuid

from tests.conftest import Cli, ROOT, cron_owner, give_job_to, requires_deno
from tests.db_rules import catalog_faults, plpgsql_findings
from toolkit.config import load_plan
from toolkit.db import connect, target_from_url
from toolkit.dev.gateway import serve
from toolkit.dev.jwt import mint_jwt
from toolkit.dev.sandbox import SandboxServer
from toolkit.final import deployed_plan, moved_functions
from toolkit.migration import JOB_FIELDS, Migration
from toolkit.names import unsuffixed
from toolkit.processor import Ticker

SECRET = "final-migration-test-secret-0123456789abcdef"
API_KEY = "sandbox-final-0123456789"
KEY_FOR = {"available-exchanges": "*", "exchange-market-status": "*"}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))




# -- helpers shared with the walk of PROGRESS.md --------------------------------------------------

def fast_bake_project(project):
    """The project copy with the checklists and a bake of a fraction of a second, judged on one job."""
    shutil.copytree(ROOT / "checklists", project / "checklists")
    plan = project / "phases.yaml"
    text = plan.read_text()
    for old, new in (("  bake_hours: 24 ", "  bake_hours: 0.00002 "), ("    min_jobs: 10 ", "    min_jobs: 1 ")):
        assert old in text
        text = text.replace(old, new)
    plan.write_text(text)
    return project


def call(url: str, body=None, token: str | None = None, method: str = "POST"):
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers=headers)
    try:
        with _DIRECT.open(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def process_one_job_per_type(db, loaded, target, sandbox) -> None:
    """One real refresh of every type through the served functions, and a viewer of each, so that
    each type's bake has a finished job and fresh viewed data to judge."""
    plan = loaded.plan
    types = [d.name for d in plan.data_types]
    db.execute(f"SELECT public.{plan.names['queue_refreshes']}(%s, %s, %s)",
               [[KEY_FOR.get(t, "AAPL") for t in types], types, [0] * len(types)])
    with serve(db.url, names=plan.names, port=None, jwt_secret=SECRET, market_data_url=sandbox.url, api_key=API_KEY,
               folder=loaded.templates / "edge") as server:
        ticker = Ticker(plan, target, f"{server.functions_url}/{plan.names.slug('queue-processor')}",
                        server.token())
        result = ticker.run(interval=0.2, until_empty=True, max_ticks=20)
    assert result["due"] == 0 and result["completed"] == len(types), result
    # Someone is viewing each on-demand type's refreshed key, so that its bake can judge freshness.
    viewed: dict[str, list[str]] = {}
    for d in plan.data_types:
        if d.strategy == "on-demand" and d.key_column is not None:
            viewed.setdefault(KEY_FOR.get(d.name, "AAPL"), []).append(d.name)
    for symbol, data_types in viewed.items():
        db.execute(f"INSERT INTO public.{plan.names['active_subscriptions']} (user_id, symbol, data_types) "
                   "VALUES (gen_random_uuid(), %s, %s)", [symbol, data_types])


def promote_every_type(loaded, target, past_the_phase_4_gate: str | None = None) -> None:
    """Migrate and promote the eleven types in the recommended order, through the state machine
    (`past_the_phase_4_gate`: the reason to migrate although phase 4 is not complete)."""
    migration = Migration(loaded, target, "pytest")
    for d in loaded.plan.data_types:
        forced = {"force": True, "reason": past_the_phase_4_gate} if past_the_phase_4_gate else {}
        assert migration.migrate(d.name, **forced)["state"] == "baking"
        time.sleep(0.1)  # the test plan's bake: 72 ms
        assert migration.promote(d.name)["state"] == "promoted", d.name


def catalog(db) -> dict:
    """What the rename may touch, as the catalogs show it."""
    public = "'public'::regnamespace"
    return {
        "relations": set(db.rows(f"SELECT relname, relkind, relacl::text FROM pg_class WHERE relnamespace = {public}")),
        "functions": set(db.rows(f"SELECT proname, pg_get_function_identity_arguments(oid), md5(prosrc), proacl::text, "
                                 f"prosecdef, proconfig::text FROM pg_proc WHERE pronamespace = {public}")),
        "types": set(db.rows(f"SELECT typname FROM pg_type WHERE typnamespace = {public}")),
        "constraints": set(db.rows(f"SELECT t.relname, c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                                   f"WHERE t.relnamespace = {public}")),
        "triggers": set(db.rows(f"SELECT t.relname, g.tgname FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid "
                                f"WHERE t.relnamespace = {public} AND NOT g.tgisinternal")),
        "policies": set(db.rows(f"SELECT t.relname, p.polname FROM pg_policy p JOIN pg_class t ON t.oid = p.polrelid "
                                f"WHERE t.relnamespace = {public}")),
        "views": set(db.rows(f"SELECT c.relname, md5(pg_get_viewdef(c.oid)) FROM pg_class c "
                             f"WHERE c.relnamespace = {public} AND c.relkind = 'v'")),
    }


def jobs(db) -> set[tuple]:
    fields = [f for f in JOB_FIELDS if f not in ("nodename", "nodeport")]
    return set(db.rows(f"SELECT {', '.join(fields)} FROM cron.job"))


def row_counts(db) -> dict[str, int]:
    names = [r[0] for r in db.rows("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                                   "AND relkind IN ('r', 'p')")]
    return {n: db.scalar(f'SELECT count(*) FROM public."{n}"') for n in names}


def carrying(db, suffix: str) -> list:
    """Every name in public (and every cron job) that still carries the suffix."""
    pattern = suffix.replace("_", "\\_")
    like = f"'%{pattern}%'"
    return db.rows(
        f"SELECT 'relation', relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE {like} "
        f"UNION ALL SELECT 'function', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname LIKE {like} "
        f"UNION ALL SELECT 'body', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prosrc LIKE {like} "
        f"UNION ALL SELECT 'type', typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typname LIKE {like} "
        f"UNION ALL SELECT 'constraint', conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conname LIKE {like} "
        f"UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE tgname LIKE {like} "
        f"UNION ALL SELECT 'policy', polname FROM pg_policy WHERE polname LIKE {like} "
        f"UNION ALL SELECT 'view body', viewname FROM pg_views WHERE schemaname = 'public' AND definition LIKE {like} "
        f"UNION ALL SELECT 'cron job', jobname FROM cron.job WHERE jobname LIKE {like} OR command LIKE {like}")


# -- the tests -------------------------------------------------------------------------------------

def test_phase_6_waits_for_every_type_promoted_unless_forced(staleness_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    db = staleness_db
    cli = Cli(db, ROOT / "phases.yaml")
    refused = cli("phase", "apply", "6")
    assert refused.exit_code == 2, refused.output
    assert "every data type promoted" in refused.stderr and "quote" in refused.stderr
    assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE phase = 6") == 0
    assert cli("phase", "apply", "6", "--force").exit_code == 2  # --force needs --reason

    forced = cli("--json", "phase", "apply", "6", "--force", "--reason", "a drill on a copy")
    assert forced.exit_code == 0, forced.output
    assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE phase = 6") == 4
    assert "a drill on a copy" in db.scalar("SELECT detail FROM toolkit.history WHERE action = 'force' AND phase = 6")


def test_a_legacy_job_of_another_role_stops_phase_6_before_anything_changes(staleness_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    db = staleness_db
    with cron_owner(db) as other:
        give_job_to(db, other, "refresh-company-profiles")
        before = jobs(db), catalog(db)
        refused = Cli(db, ROOT / "phases.yaml")("phase", "apply", "6", "--force", "--reason", "drill")
        assert refused.exit_code == 2
        assert "refresh-company-profiles" in refused.stderr and f"belongs to {other}" in refused.stderr
        assert (jobs(db), catalog(db)) == before
        assert db.scalar("SELECT count(*) FROM toolkit.ledger WHERE phase = 6") == 0


@requires_deno
def test_phase_6_on_a_database_with_every_type_promoted(staleness_db, project, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    db = staleness_db
    plan_file = fast_bake_project(project) / "phases.yaml"
    loaded = load_plan(plan_file)
    target = target_from_url(db.url)
    cli = Cli(db, plan_file)
    legacy = {d.legacy_job for d in loaded.plan.data_types}

    with SandboxServer(api_key=API_KEY) as sandbox:
        process_one_job_per_type(db, loaded, target, sandbox)
        promote_every_type(loaded, target, "phase 4 is not what this test is about")
        assert db.scalar("SELECT count(*) FROM toolkit.migrations WHERE state = 'promoted'") == 11

        # As a sampled completion does: a type's learned size estimate moves (verify must stay green).
        db.execute("UPDATE public.data_type_registry_v2 SET learned_bytes = coalesce(learned_bytes, estimated_bytes) + 1 "
                   "WHERE data_type = 'quote'")
        before_catalog, before_jobs, before_rows = catalog(db), jobs(db), row_counts(db)
        flags_before = db.rows("SELECT flag_name, enabled FROM public.feature_flags ORDER BY 1")
        audit_before = db.rows("SELECT id, flag_name, operation FROM public.feature_flag_audit ORDER BY id")
        assert {j[0] for j in before_jobs} >= legacy and carrying(db, "_v2")

        applied = cli("--json", "phase", "apply", "6")
        assert applied.exit_code == 0, applied.output
        steps = json.loads(applied.stdout)[0]["steps"]
        assert [s["step"] for s in steps if "function" not in s] == [
            "remove_legacy_cron", "remove_suffix", "remove_flag_checks", "clean_flags"]
        # The functions of phases 0-3 follow the rename: served again under their new slugs.
        assert {s["function"] for s in steps if "function" in s} == {
            "health-check", "queue-processor", "track-subscription", "untrack-subscription"}

        # The legacy jobs are gone, each kept whole in the toolkit schema.
        assert not {j[0] for j in jobs(db)} & legacy
        snapshots = db.rows("SELECT snapshot FROM toolkit.final_snapshots WHERE step = 'remove_legacy_cron'")
        assert {s["jobname"] for (s,) in snapshots} == legacy
        kept = {tuple(s[f] for f in JOB_FIELDS if f not in ("nodename", "nodeport")) for (s,) in snapshots}
        assert kept == {j for j in before_jobs if j[0] in legacy}
        # Nothing carries the suffix: names, bodies, views, cron jobs and their commands.
        assert carrying(db, "_v2") == []
        # Every row kept, under the new names (but the flags clean_flags removes, below).
        flag_tables = {"feature_flags", "feature_flag_audit"}
        after_rows = row_counts(db)
        assert {unsuffixed(n, "_v2") or n: c for n, c in before_rows.items() if n not in flag_tables} == {
            n: c for n, c in after_rows.items() if n not in flag_tables}
        assert db.scalar("SELECT processor_url FROM public.queue_config").endswith("/functions/v1/queue-processor")
        # The flags are gone, their history kept, each removal audited with the reason.
        assert db.rows("SELECT flag_name FROM public.feature_flags") == []
        audit_after = db.rows("SELECT id, flag_name, operation FROM public.feature_flag_audit ORDER BY id")
        assert audit_after[:len(audit_before)] == audit_before
        removals = db.rows("SELECT flag_name, reason FROM public.feature_flag_audit WHERE operation = 'DELETE'")
        assert sorted(f for f, _ in removals) == sorted(f for f, _ in flags_before)
        assert all("final migration" in r for _, r in removals)
        # No flag checks left in the deployed bodies.
        assert db.scalar("SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prosrc LIKE "
                         "'%is_feature_enabled%' AND proname <> 'is_feature_enabled'") == 0
        # The renamed objects and the bodies made again keep the rules of phases 0-3.
        assert catalog_faults(db) == []
        findings, _, said = plpgsql_findings(db)
        assert findings == [] and said == []

        # Every command sees the new names: verify passes everywhere, nothing is drift (phases 0-3
        # were applied with the repository's plan, whose settings the checksums include; phase 4,
        # the browser module, is not this test's: its types were migrated past its gate).
        for phase in (0, 1, 2, 3, 5, 6):
            verified = cli("--json", "phase", "verify", str(phase))
            assert all(r["result"] != "fail" for r in json.loads(verified.stdout)), verified.output
            planned = (cli if phase == 6 else Cli(db, ROOT / "phases.yaml"))("phase", "plan", str(phase))
            assert planned.exit_code == 0, planned.output
        queue = cli("--json", "queue", "status")
        assert queue.exit_code == 0, queue.output
        refused = cli("rollback", "quote", "--reason", "too late")
        assert refused.exit_code == 2 and "phase 6" in refused.stderr

        # A full refresh cycle under the new names: track -> queue -> processor -> data.
        deployed = deployed_plan(loaded, connect(target, autocommit=True)).plan
        names = deployed.names
        assert names.slug("queue-processor") == "queue-processor" and names["api_call_queue"] == "api_call_queue"
        db.execute("UPDATE public.stock_quotes SET updated_at = now() - interval '1 day', price = 1 WHERE symbol = 'MSFT'")
        db.execute("DELETE FROM public.api_call_queue WHERE symbol = 'MSFT'")
        with serve(db.url, names=names, port=None, jwt_secret=SECRET, market_data_url=sandbox.url, api_key=API_KEY,
                   folder=loaded.templates / "edge", moved=moved_functions(deployed)) as server:
            user = str(uuid.uuid4())
            status, answer = call(f"{server.functions_url}/track-subscription", {"symbol": "MSFT", "dataTypes": ["quote"]},
                                  mint_jwt(SECRET, sub=user, role="authenticated"))
            assert status == 200 and answer["tracked"] is True and [q["data_type"] for q in answer["queued"]] == ["quote"]
            assert db.scalar("SELECT count(*) FROM public.active_subscriptions WHERE user_id = %s", [user]) == 1
            ticker = Ticker(deployed, target, f"{server.functions_url}/queue-processor", server.token())
            result = ticker.run(interval=0.2, until_empty=True, max_ticks=20)
            assert result["due"] == 0 and result["completed"] >= 1, result
            old, moved = call(f"{server.functions_url}/queue-processor-v2", {}, server.token())
            assert old == 410 and moved["moved_to"] == "queue-processor"
        assert db.scalar("SELECT status FROM public.api_call_queue WHERE symbol = 'MSFT' AND data_type = 'quote'") == "completed"
        assert db.scalar("SELECT price > 1 AND updated_at > now() - interval '1 minute' FROM public.stock_quotes "
                         "WHERE symbol = 'MSFT'") is True
        rows_after_cycle = row_counts(db)

        # The revert restores the names, the bodies, the grants, the jobs and the flags exactly.
        reverted = cli("phase", "revert", "6")
        assert reverted.exit_code == 0, reverted.output
        assert catalog(db) == before_catalog
        assert jobs(db) == before_jobs
        assert db.rows("SELECT flag_name, enabled FROM public.feature_flags ORDER BY 1") == flags_before
        old_name = {unsuffixed(n, "_v2") or n: n for n in before_rows}
        assert {n: c for n, c in row_counts(db).items() if n not in flag_tables} == {
            old_name[n]: c for n, c in rows_after_cycle.items() if n not in flag_tables}
        assert db.scalar("SELECT count(*) FROM toolkit.final_snapshots") == 0
        assert db.scalar("SELECT count(*) FROM toolkit.final_renames") == 0

        # And it applies again.
        again = cli("phase", "apply", "6")
        assert again.exit_code == 0, again.output
        assert carrying(db, "_v2") == []
