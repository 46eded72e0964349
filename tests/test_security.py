"""Phases 0 and 1 under Supabase's default privileges, as the client roles see them."""

from __future__ import annotations

import psycopg
import pytest

CLIENT_ROLES = ("anon", "authenticated")


@pytest.fixture
def deployed(cli, db):
    result = cli("phase", "apply", "0..1")
    assert result.exit_code == 0, result.output
    return db


def _as(db, role: str, sql: str, params=None):
    with db.connect() as conn:
        conn.execute(f"SET ROLE {role}")
        conn.execute("SELECT set_config('request.jwt.claims', %s, true)",
                     ['{"sub": "00000000-0000-0000-0000-000000000001", "role": "%s"}' % role])
        return conn.execute(sql, params).fetchall()


def _denied(db, role: str, sql: str) -> bool:
    try:
        _as(db, role, sql)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException):
        return True
    return False


WRITES = {
    "registry insert": "INSERT INTO public.data_type_registry_v2 (data_type, target_table, timestamp_column, "
                       "ttl_seconds, priority, estimated_bytes, refresh_strategy, endpoints) "
                       "VALUES ('x', 'stock_quotes', 'updated_at', 5, 1, 1, 'on-demand', ARRAY['quote'])",
    "registry update": "UPDATE public.data_type_registry_v2 SET ttl_seconds = 1",
    "registry delete": "DELETE FROM public.data_type_registry_v2",
    "flag update": "UPDATE public.feature_flags SET enabled = true",
    "flag insert": "INSERT INTO public.feature_flags (flag_name, enabled) VALUES ('sneaky', true)",
    "flag delete": "DELETE FROM public.feature_flags",
    "audit insert": "INSERT INTO public.feature_flag_audit (flag_name, new_enabled, actor) VALUES ('x', true, 'me')",
    "ops events": "INSERT INTO public.ops_events (source, level, event) VALUES ('x', 'info', 'x')",
    "subscriptions": "INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types) "
                     "VALUES ('00000000-0000-0000-0000-000000000001', 'AAPL', ARRAY['quote'])",
}
for part in ("", "_pending", "_processing", "_completed", "_failed"):
    WRITES[f"queue{part} insert"] = (f"INSERT INTO public.api_call_queue_v2{part} (symbol, data_type, status) "
                                     f"VALUES ('AAPL', 'quote', '{(part or '_pending')[1:]}')")
    WRITES[f"queue{part} delete"] = f"DELETE FROM public.api_call_queue_v2{part}"

INTERNAL_FUNCTIONS = [
    "SELECT public.is_valid_identifier('x')",
    "SELECT public.is_data_stale_v2(now(), 60)",
    "SELECT public.is_profile_stale_v2(now(), 60, true)",
    "SELECT public.log_ops_event('x', 'info', 'x', '{}'::jsonb)",
]


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_roles_cannot_write_or_call_internal_functions(deployed, role):
    allowed = [name for name, sql in WRITES.items() if not _denied(deployed, role, sql)]
    assert allowed == []
    callable_ = [sql for sql in INTERNAL_FUNCTIONS if not _denied(deployed, role, sql)]
    assert callable_ == []


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_roles_can_read_flags_and_registry(deployed, role):
    assert len(_as(deployed, role, "SELECT data_type FROM public.data_type_registry_v2")) == 11
    flags = _as(deployed, role, "SELECT flag_name FROM public.feature_flags")
    assert ("use_queue_system",) in flags
    assert _as(deployed, role, "SELECT public.is_feature_enabled('use_queue_system')") == [(False,)]


def test_service_role_can_run_internal_functions(deployed):
    assert _as(deployed, "service_role", "SELECT public.is_data_stale_v2(now() - interval '2 minutes', 60)") == [(True,)]


def test_every_table_and_partition_in_public_has_rls(deployed):
    without = deployed.rows(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity ORDER BY 1")
    assert without == []
    partitions = deployed.scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.api_call_queue_v2'::regclass")
    assert partitions == 4


def test_security_definer_functions_pin_search_path(deployed):
    loose = deployed.rows(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef "
        "AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')")
    assert loose == []


def test_flag_changes_are_audited_and_the_audit_is_append_only(deployed):
    with deployed.connect() as conn:
        conn.execute("SET toolkit.actor = 'alice'")
        conn.execute("SET toolkit.reason = 'canary'")
        conn.execute("UPDATE public.feature_flags SET enabled = true WHERE flag_name = 'use_queue_system'")
        conn.commit()
    row = deployed.rows("SELECT flag_name, old_enabled, new_enabled, actor, reason FROM public.feature_flag_audit "
                        "WHERE flag_name = 'use_queue_system' AND new_enabled")
    assert row == [("use_queue_system", False, True, "alice", "canary")]
    for sql in ("UPDATE public.feature_flag_audit SET actor = 'mallory'", "DELETE FROM public.feature_flag_audit"):
        with pytest.raises(psycopg.Error):
            deployed.execute(sql)


@pytest.mark.parametrize("ttl", [None, 0, -1])
def test_is_data_stale_raises_on_null_or_non_positive_ttl(deployed, ttl):
    with pytest.raises(psycopg.Error) as err:
        deployed.scalar("SELECT public.is_data_stale_v2(now(), %s::integer)", [ttl])
    assert err.value.sqlstate == "22023"


def test_is_data_stale_behaviour_and_no_defaults(deployed):
    assert deployed.scalar("SELECT public.is_data_stale_v2(now(), 60)") is False
    assert deployed.scalar("SELECT public.is_data_stale_v2(now() - interval '61 seconds', 60)") is True
    assert deployed.scalar("SELECT public.is_data_stale_v2(NULL, 60)") is True
    defaults = deployed.rows("SELECT proname, pronargdefaults FROM pg_proc WHERE proname IN "
                             "('is_data_stale_v2', 'is_profile_stale_v2') ORDER BY 1")
    assert defaults == [("is_data_stale_v2", 0), ("is_profile_stale_v2", 0)]
    assert deployed.scalar("SELECT public.is_profile_stale_v2(now(), 60, false)") is True
    assert deployed.scalar("SELECT public.is_profile_stale_v2(now(), 60, true)") is False


IDENTIFIERS = [
    ("stock_quotes", True), ("updated_at", True), ("_x1", True), ("A1", True), ("a" * 63, True),
    (None, False), ("", False), ("a" * 64, False), ("select", False), ("table", False),
    ("a b", False), ("x;drop table y", False), ('"quoted"', False), ("a.b", False),
    ("tbl--", False), ("1abc", False), ("stock_quotes'; DELETE FROM x; --", False),
    ("quote) OR (1=1", False), ("ѕtock", False), ("naïve", False), ("tab\tle", False), ("x\n", False),
]


@pytest.mark.parametrize("name,valid", IDENTIFIERS)
def test_is_valid_identifier(deployed, name, valid):
    assert deployed.scalar("SELECT public.is_valid_identifier(%s)", [name]) is valid


def test_ttl_check_constraint(deployed):
    with pytest.raises(psycopg.errors.CheckViolation):
        deployed.execute("UPDATE public.data_type_registry_v2 SET ttl_seconds = 0 WHERE data_type = 'quote'")
