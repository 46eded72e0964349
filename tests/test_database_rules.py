"""The database the rollout leaves after phases 0-3, in both scheduler modes: plpgsql_check finds
nothing in any plpgsql function of public and toolkit, and the catalogs keep the rules (a fixed
search_path on every function, security_invoker on every view, RLS on every table, and no write
by a client role but through the client RPCs). Phase 6's renamed objects are held to the same
rules in tests/test_final_migration.py."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, TEMPLATE_DB, Cli, Database, _clone
from tests.db_rules import CLIENT_RPCS, catalog_faults, frontend_rpcs, plpgsql_findings
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.engine import Engine


@pytest.fixture(scope="module")
def postgres_mode_template(cluster, tmp_path_factory) -> str:
    """Phases 0-3 applied in the "all in Postgres" scheduler mode (pg_net's stand-in, Vault)."""
    project = tmp_path_factory.mktemp("pg-mode-rules")
    text = (ROOT / "phases.yaml").read_text()
    assert "  scheduler_mode: external " in text
    (project / "phases.yaml").write_text(text.replace("  scheduler_mode: external ", "  scheduler_mode: postgres ", 1))
    name = "tpl_rules_postgres_mode"
    cluster.create_database(name, template=TEMPLATE_DB)
    Engine(load_plan(project / "phases.yaml", ROOT / "templates"), target_from_url(cluster.conninfo(name)),
           "pytest").apply([0, 1, 2, 3])
    yield name
    cluster.drop_database(name)


@pytest.fixture(params=["external", "postgres"])
def phases_0_3(request, cluster) -> Database:
    template = request.getfixturevalue("staleness_template" if request.param == "external" else "postgres_mode_template")
    yield from _clone(cluster, template)


def test_plpgsql_check_finds_nothing_after_phases_0_to_3(phases_0_3):
    findings, checked, said = plpgsql_findings(phases_0_3)
    assert findings == [] and said == []
    assert checked > 30  # the queue's, the staleness system's and the toolkit's own (39 today)


def test_plpgsql_check_reports_what_it_should(db):
    # The check above can fail: the same query over a schema holding a function with an unused
    # variable, an implicit cast and a path without RETURN reports each of them.
    db.execute("CREATE SCHEMA probe")
    db.execute("""CREATE FUNCTION probe.bad(p integer) RETURNS integer LANGUAGE plpgsql AS $$
                  DECLARE unused text; words text[] := '{}';
                  BEGIN IF p > 0 THEN RETURN cardinality(words); END IF; END $$""")
    findings, checked, _ = plpgsql_findings(db, schemas=("probe",))
    messages = " | ".join(f[3] for f in findings)
    assert checked == 1
    assert 'unused variable "unused"' in messages
    assert 'cast "text" value to "text[]"' in " | ".join(str(f[4]) for f in findings)
    assert "control reached end of function without RETURN" in messages


def test_the_catalogs_keep_the_rules_after_phases_0_to_3(phases_0_3):
    assert catalog_faults(phases_0_3) == []


def test_the_client_rpcs_are_what_the_browser_module_calls():
    assert frontend_rpcs() == {f.split("(")[0] for f in CLIENT_RPCS}


def test_the_catalog_rules_catch_each_fault(staleness_db):
    db = staleness_db
    db.execute("ALTER FUNCTION public.quota_window_bytes_v2(timestamptz, public.api_quota_state_v2, integer) "
               "RESET search_path")
    db.execute("ALTER VIEW public.queue_metrics_v2 RESET (security_invoker)")
    db.execute("ALTER TABLE public.processor_runs_v2 DISABLE ROW LEVEL SECURITY")
    db.execute("GRANT UPDATE ON public.feature_flags TO authenticated")
    db.execute("GRANT INSERT (symbol) ON public.stock_quotes TO anon")
    db.execute("GRANT USAGE ON SEQUENCE public.ops_events_id_seq TO anon")
    db.execute("GRANT EXECUTE ON FUNCTION public.untrack_subscription_v2(uuid, text) TO authenticated")
    db.execute("REVOKE EXECUTE ON FUNCTION public.is_feature_enabled(text) FROM PUBLIC, anon, authenticated")
    assert catalog_faults(db) == [
        "anon may INSERT a column of public.stock_quotes",
        "anon may USAGE sequence public.ops_events_id_seq",
        "authenticated may UPDATE public.feature_flags",
        "function public.quota_window_bytes_v2(timestamp with time zone,public.api_quota_state_v2,integer) "
        "has no fixed search_path (SET search_path = '')",
        "table public.processor_runs_v2 has no row-level security",
        "view public.queue_metrics_v2 runs with its owner's rights (no security_invoker)",
        "a client role may call untrack_subscription_v2(uuid,text), which is not a client RPC",
        "client RPC is_feature_enabled(text) cannot be called by the client roles",
    ]


# -- registry targets: the plan's data tables only --------------------------------------------------

def test_a_plan_naming_one_of_the_rollouts_tables_as_a_data_table_is_refused(db, tmp_path):
    text = (ROOT / "phases.yaml").read_text()
    line = text[:text.index("\ndata_types:")].count("\n") + 2
    for table in ("ops_events", "api_call_queue_v2_pending", "processor_state"):  # the last: its name after Phase 6
        plan = tmp_path / "phases.yaml"
        plan.write_text(text.replace("table: stock_quotes,", f"table: {table},", 1))
        refused = Cli(db, plan)("phase", "apply", "0..1")
        assert refused.exit_code == 2
        assert refused.stderr.strip().splitlines() == [
            f"error: {plan}:{line}: data_types: data type quote: table {table} is one of the rollout's own tables; "
            "a data type's table is the app's table its data is kept in"]
    assert db.scalar("SELECT to_regnamespace('toolkit') IS NULL")  # nothing ran


def test_a_registry_row_naming_another_table_fails_verify_and_is_refused_by_migrate(staleness_db, tmp_path):
    db = staleness_db
    cli = Cli(db, ROOT / "phases.yaml")
    assert cli("phase", "verify", "1").exit_code == 0
    # Both pass the registry's format CHECKs: plain identifiers, naming the rollout's own tables.
    db.execute("UPDATE public.data_type_registry_v2 SET target_table = 'ops_events' WHERE data_type = 'quote'")
    db.execute("INSERT INTO public.data_type_registry_v2 (data_type, target_table, timestamp_column, ttl_seconds, "
               "priority, estimated_bytes, endpoints) VALUES ('extra', 'feature_flags', 'updated_at', 60, 0, 0, '{x}')")
    verified = cli("--json", "phase", "verify", "1")
    assert verified.exit_code == 1
    registry = next(r for r in json.loads(verified.stdout) if r["step"] == "data_type_registry")
    assert registry["result"] == "fail"
    assert ("rows whose target is not one of the plan's data tables: extra -> feature_flags, quote -> ops_events"
            in registry["message"])

    flags = db.rows("SELECT flag_name, enabled FROM public.feature_flags ORDER BY 1")
    refused = cli("migrate", "quote", "--force", "--reason", "phase 4 is not what this test is about")
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines()[-2:] == [
        "error: the data_type_registry_v2 row of quote reads its data from public.ops_events (key symbol, "
        "timestamp updated_at), not from the plan's public.stock_quotes (key symbol, timestamp updated_at): "
        "migrate quote changed nothing",
        "hint: set the row back to the plan's table (`toolkit phase verify 1` names every row that differs), "
        "then run migrate again"]
    assert db.scalar("SELECT count(*) FROM toolkit.migrations") == 0
    assert db.rows("SELECT flag_name, enabled FROM public.feature_flags ORDER BY 1") == flags
    assert db.scalar("SELECT active FROM cron.job WHERE jobname = 'refresh-stock-quotes'") is True
