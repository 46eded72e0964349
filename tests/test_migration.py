"""Per-type migration against a real PostgreSQL with pg_cron and the legacy app's jobs."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, Cli, cron_owner, give_job_to
from toolkit.migration import JOB_FIELDS

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"


class ForcedCli(Cli):
    """`migrate` past the phase 4 gate (a database with phases 0-3 only; the gate has its own
    tests in test_frontend.py), with the override's reason recorded as a user would give it."""

    def __call__(self, *args: str, input: str | None = None):
        if "migrate" in args:
            given = "--reason" in args or "--out-of-order" in args  # the out-of-order tests give their own
            args = (*args, "--force", *(() if given else ("--reason", FORCED)))
        return super().__call__(*args, input=input)


FORCED = "phase 4 is not what these tests are about"


@pytest.fixture
def cli(staleness_db, tmp_path, monkeypatch) -> Cli:
    """The CLI on a database with phases 0-3 applied, keeping a copy of the seed document."""
    document = tmp_path / "PROGRESS.md"
    shutil.copy(SEED, document)
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(document))
    return ForcedCli(staleness_db, ROOT / "phases.yaml")


def job(db, name: str) -> dict | None:
    rows = db.rows(f"SELECT {', '.join(JOB_FIELDS)} FROM cron.job WHERE jobname = %s", [name])
    return dict(zip(JOB_FIELDS, rows[0])) if rows else None


def state(db, data_type: str) -> str | None:
    return db.scalar("SELECT state FROM toolkit.migrations WHERE data_type = %s", [data_type])


def audit(db, flag: str) -> list[tuple]:
    return db.rows("SELECT old_enabled, new_enabled, actor, reason FROM public.feature_flag_audit "
                   "WHERE flag_name = %s AND old_enabled IS NOT NULL ORDER BY id", [flag])


def migration_row(path, data_type: str) -> str:
    return next(line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{data_type}` |"))


def test_migrate_quote_then_again_changes_nothing(cli, staleness_db, tmp_path):
    db = staleness_db
    before = job(db, "refresh-stock-quotes")
    assert before["active"] is True
    result = cli("--json", "migrate", "quote")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["done"] == ["registered", "flag_on", "legacy_disabled", "baking"]

    assert audit(db, "use_queue_for_quote") == [(False, True, "pytest", "migrate quote")]
    assert audit(db, "use_queue_system") == [(False, True, "pytest", "migrate quote")]
    assert job(db, "refresh-stock-quotes") == {**before, "active": False}
    assert db.scalar("SELECT count(*) FROM public.data_type_registry_v2 WHERE data_type = 'quote'") == 1
    assert state(db, "quote") == "baking"
    snapshot = db.scalar("SELECT legacy_snapshot FROM toolkit.migrations WHERE data_type = 'quote'")
    assert {k: snapshot[k] for k in JOB_FIELDS} == before
    # "Migrated Date" stays empty while the type only bakes.
    baking_since = db.scalar("SELECT bake_started_at::date::text FROM toolkit.migrations WHERE data_type = 'quote'")
    assert migration_row(tmp_path / "PROGRESS.md", "quote") == f"| `quote` | 🟡 In Progress | - | Baking since {baking_since} |"

    events = db.scalar("SELECT count(*) FROM toolkit.migration_events")
    again = cli("--json", "migrate", "quote")
    assert again.exit_code == 0 and json.loads(again.stdout)["done"] == []
    assert len(audit(db, "use_queue_for_quote")) == 1
    assert db.scalar("SELECT count(*) FROM toolkit.migration_events") == events


@pytest.mark.parametrize("unscheduled", [False, True], ids=["job-kept", "job-unscheduled"])
def test_rollback_restores_the_legacy_job_exactly(cli, staleness_db, tmp_path, unscheduled):
    db = staleness_db
    before = job(db, "refresh-stock-quotes")
    assert cli("migrate", "quote").exit_code == 0
    if unscheduled:
        db.execute("SELECT cron.unschedule('refresh-stock-quotes')")
        assert job(db, "refresh-stock-quotes") is None
    result = cli("--json", "rollback", "quote", "--reason", "stale quotes in the drill")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["legacy_job"]["how"] == ("re-created" if unscheduled else "restored")
    assert job(db, "refresh-stock-quotes") == before  # field by field: name, schedule, command, node, db, user, active
    assert audit(db, "use_queue_for_quote")[-1] == (True, False, "pytest", "rollback quote: stale quotes in the drill")
    assert state(db, "quote") == "rolled_back"
    row = migration_row(tmp_path / "PROGRESS.md", "quote")
    assert "⚪ Rolled Back" in row and "stale quotes in the drill" in row


def rename_job(db, old: str, new: str) -> None:
    """Rename a job as a hosted postgres can (cron.job is read-only for it): unschedule, schedule again."""
    j = job(db, old)
    db.execute("SELECT cron.unschedule(%s::name)", [old])
    db.execute("SELECT cron.schedule_in_database(%s, %s, %s, %s, NULL, %s)",
               [new, j["schedule"], j["command"], j["database"], j["active"]])


# What a failed command must leave exactly as it was: the registry, the flags and their audit,
# every cron job, the migration states and their events.
FOOTPRINT = """
SELECT (SELECT string_agg(data_type, ',' ORDER BY data_type) FROM public.data_type_registry_v2) AS registry,
       (SELECT string_agg(flag_name || '=' || enabled, ',' ORDER BY flag_name) FROM public.feature_flags) AS flags,
       (SELECT count(*) FROM public.feature_flag_audit) AS flag_audit,
       (SELECT string_agg(concat_ws('|', jobid, jobname, schedule, command, nodename, nodeport, database, username, active),
                          ',' ORDER BY jobid) FROM cron.job) AS cron_jobs,
       (SELECT string_agg(concat_ws('|', data_type, state, legacy_snapshot, bake_started_at), ',' ORDER BY data_type)
        FROM toolkit.migrations) AS migrations,
       (SELECT count(*) FROM toolkit.migration_events) AS migration_events
"""


def footprint(db) -> tuple:
    return db.rows(FOOTPRINT)[0]


def fail_on_state(db, failing: str) -> None:
    """A failure injected into the database: recording `failing` as a type's state raises, after
    every earlier part of the command (flags, cron) has run in its transaction."""
    db.execute("CREATE FUNCTION toolkit.injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN IF NEW.state = TG_ARGV[0] THEN RAISE EXCEPTION 'injected failure at %', NEW.state; END IF; "
               "RETURN NEW; END $$")
    db.execute(f"CREATE TRIGGER injected_failure BEFORE INSERT OR UPDATE ON toolkit.migrations "
               f"FOR EACH ROW EXECUTE FUNCTION toolkit.injected_failure('{failing}')")


def cure(db) -> None:
    db.execute("DROP FUNCTION toolkit.injected_failure() CASCADE")


def test_a_failed_migration_changes_nothing_and_a_second_run_does_it_all(cli, staleness_db):
    db = staleness_db
    rename_job(db, "refresh-stock-quotes", "renamed-by-someone")
    unchanged = footprint(db)
    failed = cli("migrate", "quote")
    assert failed.exit_code == 2
    assert "refresh-stock-quotes" in failed.stderr and "not found" in failed.stderr
    assert state(db, "quote") is None  # all or nothing: registering and the flags were undone
    assert footprint(db) == unchanged

    rename_job(db, "renamed-by-someone", "refresh-stock-quotes")
    resumed = cli("--json", "migrate", "quote")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["done"] == ["registered", "flag_on", "legacy_disabled", "baking"]
    assert len(audit(db, "use_queue_for_quote")) == 1
    assert db.rows("SELECT event, count(*) FROM toolkit.migration_events WHERE event IN ('registered', 'flag_on') "
                   "GROUP BY event ORDER BY event") == [("flag_on", 1), ("registered", 1)]
    assert job(db, "refresh-stock-quotes")["active"] is False


def test_a_failure_after_the_flag_step_leaves_everything_as_before(cli, staleness_db):
    db = staleness_db
    fail_on_state(db, "legacy_disabled")  # after register, both flags, and the legacy job's pause
    unchanged = footprint(db)
    failed = cli("migrate", "quote")
    assert failed.exit_code == 2 and "injected failure at legacy_disabled" in failed.stderr
    assert footprint(db) == unchanged
    assert job(db, "refresh-stock-quotes")["active"] is True

    cure(db)
    assert cli("migrate", "quote").exit_code == 0
    assert state(db, "quote") == "baking"


@pytest.mark.parametrize("command,failing", [
    (("rollback", "quote", "--reason", "drill"), "rolled_back"),
    (("promote", "quote", "--force", "--reason", "drill"), "promoted"),
], ids=["rollback", "promote"])
def test_a_failed_rollback_or_promotion_leaves_everything_as_before(cli, staleness_db, command, failing):
    db = staleness_db
    assert cli("migrate", "quote").exit_code == 0
    fail_on_state(db, failing)  # rollback: after the legacy job's restore and the flag's switch
    unchanged = footprint(db)
    failed = cli(*command)
    assert failed.exit_code == 2 and f"injected failure at {failing}" in failed.stderr
    assert footprint(db) == unchanged
    assert state(db, "quote") == "baking" and job(db, "refresh-stock-quotes")["active"] is False


@pytest.fixture
def other_role(staleness_db):
    with cron_owner(staleness_db) as name:
        yield name


def test_a_legacy_job_of_another_role_is_refused_before_anything_changes(cli, staleness_db, other_role):
    db = staleness_db
    give_job_to(db, other_role, "refresh-stock-quotes")
    unchanged = footprint(db)
    refused = cli("migrate", "quote")
    assert refused.exit_code == 2, refused.output
    assert "'refresh-stock-quotes'" in refused.stderr and f"owned by {other_role}" in refused.stderr
    assert "dashboard" in refused.stderr
    assert footprint(db) == unchanged and state(db, "quote") is None
    assert job(db, "refresh-stock-quotes")["active"] is True


def test_a_rollback_onto_a_job_another_role_took_over_is_refused(cli, staleness_db, other_role):
    db = staleness_db
    assert cli("migrate", "quote").exit_code == 0
    give_job_to(db, other_role, "refresh-stock-quotes")
    unchanged = footprint(db)
    refused = cli("rollback", "quote", "--reason", "drill")
    assert refused.exit_code == 2 and f"owned by {other_role}" in refused.stderr
    assert footprint(db) == unchanged and state(db, "quote") == "baking"


def test_a_second_command_waits_for_the_migration_lock_then_gives_up(staleness_db, project, tmp_path, monkeypatch):
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace("lock_timeout: 5s", "lock_timeout: 200ms"))
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "absent.md"))
    from toolkit.config import load_plan

    key = load_plan(plan).plan.settings.locks.migration
    unchanged = footprint(staleness_db)
    with staleness_db.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [key])
        blocked = ForcedCli(staleness_db, plan)("migrate", "quote")
    assert blocked.exit_code == 2 and "another migrate, promote or rollback is running" in blocked.stderr
    assert footprint(staleness_db) == unchanged


def test_the_whole_lifecycle_runs_as_the_hosted_postgres(cli, staleness_db):
    """migrate, monitor, rollback, the rollback drill, promote and phase revert 3 under the
    privileges of a hosted project's postgres, which is no superuser."""
    db = staleness_db
    assert db.rows("SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user") == [("postgres", False)]
    before = job(db, "refresh-stock-quotes")

    assert cli("migrate", "quote").exit_code == 0
    _viewers_with_fresh_quotes(db)
    _seed_jobs(db, 30, 0)
    monitored = cli("--json", "monitor", "quote")
    assert monitored.exit_code == 0 and json.loads(monitored.stdout)["verdict"] == "pass"
    rolled_back = cli("--json", "rollback", "quote", "--reason", "drill")
    assert rolled_back.exit_code == 0, rolled_back.output
    assert json.loads(rolled_back.stdout)["legacy_job"]["differs"] == {}
    assert job(db, "refresh-stock-quotes") == before
    drill = cli("--json", "checklist", "run", "rollback-drill", "--type", "quote", "--non-interactive")
    automated = {i["id"]: i["result"] for i in json.loads(drill.stdout)["items"] if i["kind"] == "automated"}
    assert automated == {"legacy_job_restored": "pass", "flag_off": "pass", "no_leftover_jobs": "pass"}

    assert cli("migrate", "quote").exit_code == 0
    db.execute("UPDATE toolkit.migrations SET bake_started_at = now() - interval '25 hours'")
    promoted = cli("promote", "quote")
    assert promoted.exit_code == 0, promoted.output
    assert state(db, "quote") == "promoted"
    reverted = cli("--yes", "phase", "revert", "3")
    assert reverted.exit_code == 0, reverted.output
    assert db.scalar("SELECT count(*) FROM cron.job WHERE jobname LIKE 'queue-%%'") == 0


def test_recommended_order_is_enforced_unless_overridden(cli, staleness_db):
    refused = cli("migrate", "profile")
    assert refused.exit_code == 2 and "quote" in refused.stderr and "--out-of-order" in refused.stderr
    assert cli("migrate", "profile", "--out-of-order").exit_code == 2  # a reason is required
    allowed = cli("migrate", "profile", "--out-of-order", "--reason", "profiles are urgent")
    assert allowed.exit_code == 0, allowed.output
    assert staleness_db.scalar("SELECT detail ->> 'reason' FROM toolkit.migration_events WHERE event = 'out_of_order'") \
        == "profiles are urgent"


def test_migration_needs_phases_0_to_3_even_when_forced(db):
    result = Cli(db, ROOT / "phases.yaml")("migrate", "quote", "--force", "--reason", "no")
    assert result.exit_code == 2
    assert "phases 0-3 applied" in result.stderr


def _seed_jobs(db, completed: int, failed: int) -> None:
    db.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at, attempts) "
               "SELECT 'C' || g, 'quote', 'completed', now() - interval '5 minutes', 1 FROM generate_series(1, %s) g",
               [completed])
    db.execute("INSERT INTO public.api_call_queue_v2 (symbol, data_type, status, finished_at, attempts, last_error) "
               "SELECT 'F' || g, 'quote', 'failed', now() - interval '5 minutes', 5, 'HTTP 500' FROM generate_series(1, %s) g",
               [failed])


def _viewers_with_fresh_quotes(db) -> None:
    db.execute("UPDATE public.stock_quotes SET updated_at = now()")
    db.execute("INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types) "
               "SELECT gen_random_uuid(), symbol, ARRAY['quote'] FROM public.stock_quotes LIMIT 5")


@pytest.mark.parametrize("completed,failed,verdict,exit_code", [
    (30, 0, "pass", 0), (15, 15, "fail", 1), (2, 0, "inconclusive", 1),
], ids=["pass", "fail", "inconclusive"])
def test_monitor_verdicts(cli, staleness_db, completed, failed, verdict, exit_code):
    assert cli("migrate", "quote").exit_code == 0
    _viewers_with_fresh_quotes(staleness_db)
    _seed_jobs(staleness_db, completed, failed)
    result = cli("--json", "monitor", "quote")
    assert result.exit_code == exit_code, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == verdict
    assert payload["metrics"]["completed"] == completed and payload["metrics"]["viewed"] == 5
    if verdict == "fail":
        assert "15 completed, 15 failed in the last 60 min: 50.0% success, at least 95% needed" in payload["reasons"]


@pytest.mark.parametrize("completed,failed,viewers,verdict", [
    (30, 0, True, "pass"), (15, 15, True, "fail"), (2, 0, True, "inconclusive"), (30, 0, False, "inconclusive"),
], ids=["pass", "fail", "too-few-jobs", "nobody-viewing"])
def test_the_migration_checklist_and_monitor_agree(cli, staleness_db, completed, failed, viewers, verdict):
    from toolkit.checklists import load

    assert cli("migrate", "quote").exit_code == 0
    staleness_db.execute("UPDATE public.stock_quotes SET updated_at = now()")
    if viewers:
        _viewers_with_fresh_quotes(staleness_db)
    _seed_jobs(staleness_db, completed, failed)
    monitor = json.loads(cli("--json", "monitor", "quote").stdout)
    run = cli("--json", "checklist", "run", "migration", "--type", "quote", "--non-interactive")
    items = {i["id"]: i for i in json.loads(run.stdout)["items"]}
    judged = {item.judge: item.id for item in load(ROOT, "migration").items if item.judge}
    assert set(judged) == {c["criterion"] for c in monitor["criteria"]}
    for criterion in monitor["criteria"]:
        item = items[judged[criterion["criterion"]]]
        assert (item["result"], item["evidence"]) == (criterion["result"], criterion["evidence"])
    assert monitor["verdict"] == verdict
    results = {items[i]["result"] for i in judged.values()}
    assert results == ({"pass"} if verdict == "pass" else results | {verdict})
    if not viewers:
        assert items["viewed_data_fresh"]["evidence"] == "nobody is viewing quote right now: nothing to judge"


def test_monitor_fails_on_stale_viewed_data(cli, staleness_db):
    assert cli("migrate", "quote").exit_code == 0
    _viewers_with_fresh_quotes(staleness_db)
    staleness_db.execute("UPDATE public.stock_quotes SET updated_at = now() - interval '1 hour'")
    _seed_jobs(staleness_db, 30, 0)
    payload = json.loads(cli("--json", "monitor", "quote").stdout)
    assert payload["verdict"] == "fail" and payload["metrics"]["stale_share"] == 1.0


def test_promote_needs_the_bake_time_and_a_passing_verdict(cli, staleness_db, tmp_path):
    assert cli("migrate", "quote").exit_code == 0
    early = cli("promote", "quote")
    assert early.exit_code == 1 and "baked" in early.stderr
    assert state(staleness_db, "quote") == "baking"

    staleness_db.execute("UPDATE toolkit.migrations SET bake_started_at = now() - interval '25 hours'")
    _viewers_with_fresh_quotes(staleness_db)
    _seed_jobs(staleness_db, 30, 0)
    promoted = cli("--json", "promote", "quote")
    assert promoted.exit_code == 0, promoted.output
    assert state(staleness_db, "quote") == "promoted"
    today = staleness_db.scalar("SELECT promoted_at::date::text FROM toolkit.migrations WHERE data_type = 'quote'")
    assert migration_row(tmp_path / "PROGRESS.md", "quote") == f"| `quote` | 🟢 Migrated | {today} | Promoted |"
    assert json.loads(cli("--json", "migrate", "profile").stdout)["state"] == "baking"  # quote is done: next in order


def test_forced_promotion_is_recorded_and_visible(cli, staleness_db, tmp_path):
    assert cli("migrate", "quote").exit_code == 0
    assert cli("promote", "quote", "--force").exit_code == 2
    forced = cli("--json", "promote", "quote", "--force", "--reason", "vendor deadline")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["overridden"]
    assert staleness_db.scalar("SELECT detail ->> 'reason' FROM toolkit.migration_events WHERE event = 'forced'") == "vendor deadline"
    row = migration_row(tmp_path / "PROGRESS.md", "quote")
    assert row.startswith("| `quote` | 🟢 Migrated | 20") and row.endswith("| Promoted by force: vendor deadline |")
