"""The local cluster's roles are a hosted Supabase project's. The expected values are the
facts about hosted Postgres roles (PG 15 images) written down once, here, so that the local
stand-in cannot drift from them: attributes, settings, memberships, the grants on cron, net
and vault, Supabase's default privileges, and what pg_cron and Vault refuse postgres."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import cron_owner, give_job_to

ATTRIBUTES = ("rolsuper", "rolcanlogin", "rolinherit", "rolcreaterole", "rolcreatedb", "rolreplication",
              "rolbypassrls")
# role -> the attributes a hosted project gives it; those not named are off.
ROLES = {
    "postgres": {"rolcanlogin", "rolinherit", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls"},
    "authenticator": {"rolcanlogin"},
    "anon": {"rolinherit"},
    "authenticated": {"rolinherit"},
    "service_role": {"rolinherit", "rolbypassrls"},
}
SUPERUSERS = ["supabase_admin"]
SETTINGS = {
    "postgres": {"search_path": '"$user", public, extensions'},
    "authenticator": {"statement_timeout": "8s", "lock_timeout": "8s"},
    "anon": {"statement_timeout": "3s"},
    "authenticated": {"statement_timeout": "8s"},
    "service_role": {},
}
# PG 15: none of them with the admin option.
MEMBER_OF = {
    "postgres": {"anon", "authenticated", "service_role", "pg_monitor", "pg_read_all_data", "pg_signal_backend"},
    "authenticator": {"anon", "authenticated", "service_role"},
}
API_ROLES = ("anon", "authenticated", "service_role")

CRON_JOB_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
# (role, kind of object, object, privilege, held?)
GRANTS = [
    ("postgres", "schema", "cron", "USAGE WITH GRANT OPTION", True),
    ("postgres", "table", "cron.job", "SELECT", True),
    *[("postgres", "table", "cron.job", p, False) for p in CRON_JOB_WRITES],
    *[("postgres", "function", f, "EXECUTE", True) for f in (
        "cron.schedule(text, text, text)", "cron.unschedule(bigint)", "cron.unschedule(name)",
        "cron.alter_job(bigint, text, text, text, text, boolean)",
        "cron.schedule_in_database(text, text, text, text, text, boolean)")],
    ("postgres", "schema", "vault", "USAGE", True),
    ("service_role", "schema", "vault", "USAGE", True),
    ("anon", "schema", "vault", "USAGE", False),
    ("authenticated", "schema", "vault", "USAGE", False),
    *[("postgres", "table", rel, p, True) for rel in ("vault.secrets", "vault.decrypted_secrets")
      for p in ("SELECT", "DELETE", "TRUNCATE")],
    *[("postgres", "table", rel, p, False) for rel in ("vault.secrets", "vault.decrypted_secrets")
      for p in ("INSERT", "UPDATE")],
    ("service_role", "table", "vault.decrypted_secrets", "SELECT", False),
    ("postgres", "function", "vault.create_secret(text, text, text)", "EXECUTE", True),
    ("postgres", "function", "vault.update_secret(uuid, text, text, text)", "EXECUTE", True),
]
NET_GRANTS = [(role, "schema", "net", "USAGE", True) for role in ("postgres", *API_ROLES)]
NET_FUNCTIONS = ("net.http_get(text, jsonb, jsonb, integer)", "net.http_post(text, jsonb, jsonb, jsonb, integer)")
# What postgres creates in public is open to the API roles until revoked.
DEFAULT_PRIVILEGES = {
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "sequence": ("USAGE", "SELECT", "UPDATE"),
    "function": ("EXECUTE",),
}


@pytest.fixture(params=["postgres", "clone"])
def conn(request, cluster):
    """The cluster's own `postgres` database (built by `toolkit local up`) and a test clone."""
    if request.param == "postgres":
        with psycopg.connect(cluster.conninfo(), autocommit=True) as c:
            yield c
    else:
        db = request.getfixturevalue("db")
        with db.connect(autocommit=True) as c:
            yield c


def _held(conn, role: str, kind: str, obj: str, privilege: str) -> bool:
    check = {"schema": "has_schema_privilege", "table": "has_table_privilege",
             "function": "has_function_privilege", "sequence": "has_sequence_privilege"}[kind]
    return conn.execute(f"SELECT {check}(%s, %s, %s)", [role, obj, privilege]).fetchone()[0]


def test_roles_have_the_hosted_attributes(conn):
    rows = conn.execute(f"SELECT rolname, {', '.join(ATTRIBUTES)} FROM pg_roles WHERE rolname = ANY(%s)",
                        [list(ROLES)]).fetchall()
    found = {r[0]: {a for a, on in zip(ATTRIBUTES, r[1:]) if on} for r in rows}
    assert found == ROLES
    assert [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY rolname")] == SUPERUSERS


def test_roles_have_the_hosted_settings(conn):
    rows = conn.execute("SELECT r.rolname, s.setconfig FROM pg_roles AS r "
                        "LEFT JOIN pg_db_role_setting AS s ON s.setrole = r.oid AND s.setdatabase = 0 "
                        "WHERE r.rolname = ANY(%s)", [list(SETTINGS)]).fetchall()
    found = {name: dict(c.split("=", 1) for c in config or []) for name, config in rows}
    assert found == SETTINGS


def test_roles_have_the_hosted_memberships(conn):
    for member, roles in MEMBER_OF.items():
        rows = conn.execute("SELECT g.rolname, m.admin_option FROM pg_auth_members AS m "
                            "JOIN pg_roles AS g ON g.oid = m.roleid WHERE m.member = %s::regrole", [member]).fetchall()
        assert {name: admin for name, admin in rows} == dict.fromkeys(roles, False), member


def test_the_superuser_owns_the_extensions_and_postgres_the_database(conn):
    owners = dict(conn.execute("SELECT extname, extowner::regrole::text FROM pg_extension").fetchall())
    assert set(owners.values()) == {"supabase_admin"}, owners
    assert conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_cron'").fetchone() \
        == ("pg_catalog",)
    assert conn.execute("SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database()").fetchone() \
        == ("postgres",)


@pytest.mark.parametrize("role,kind,obj,privilege,held", GRANTS, ids=[f"{g[0]}-{g[3]}-{g[2]}" for g in GRANTS])
def test_grants_on_cron_and_vault(conn, role, kind, obj, privilege, held):
    assert _held(conn, role, kind, obj, privilege) is held


def test_grants_on_net(conn):
    if conn.execute("SELECT to_regnamespace('net') IS NULL").fetchone()[0]:
        pytest.skip("no pg_net, nor its local stand-in, in this cluster: the net facts are checked where it is")
    for role, kind, obj, privilege, held in NET_GRANTS:
        assert _held(conn, role, kind, obj, privilege) is held, (role, obj)
    for fn in NET_FUNCTIONS:
        secdef, public = conn.execute(
            "SELECT p.prosecdef, EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a "
            "WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') FROM pg_proc AS p WHERE p.oid = %s::regprocedure",
            [fn]).fetchone()
        assert (secdef, public) == (False, True), fn  # SECURITY INVOKER, executable by PUBLIC


def test_default_privileges_open_what_postgres_creates_in_public(conn):
    with conn.transaction(force_rollback=True):
        conn.execute("CREATE TABLE public.default_privs_probe (id serial)")
        conn.execute("CREATE FUNCTION public.default_privs_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        objects = {"table": "public.default_privs_probe", "sequence": "public.default_privs_probe_id_seq",
                   "function": "public.default_privs_probe()"}
        for kind, privileges in DEFAULT_PRIVILEGES.items():
            for role in API_ROLES:
                for privilege in privileges:
                    assert _held(conn, role, kind, objects[kind], privilege), (role, kind, privilege)


@pytest.mark.parametrize("sql", [
    "SELECT jobid FROM cron.job FOR UPDATE",
    "UPDATE cron.job SET active = active",
    "DELETE FROM cron.job WHERE false",
], ids=["select-for-update", "update", "delete"])
def test_cron_job_is_read_only_for_postgres(conn, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


def test_pg_cron_refuses_postgres_another_roles_job(db):
    with cron_owner(db) as role:
        give_job_to(db, role, "refresh-stock-quotes")
        jobid = db.scalar("SELECT jobid FROM cron.job WHERE jobname = 'refresh-stock-quotes'")
        with pytest.raises(psycopg.Error, match="does not exist or you don't own it"):
            db.execute("SELECT cron.alter_job(%s, active := false)", [jobid])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("SELECT cron.unschedule(%s)", [jobid])
        assert db.scalar("SELECT active FROM cron.job WHERE jobid = %s", [jobid]) is True


def test_postgres_writes_secrets_only_through_vaults_functions(conn):
    with conn.transaction(force_rollback=True):
        sid = conn.execute("SELECT vault.create_secret('s3cret', 'facts_probe', 'probe')").fetchone()[0]
        conn.execute("SELECT vault.update_secret(%s, 'n3w')", [sid])
        assert conn.execute("SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = %s", [sid]).fetchone() \
            == ("n3w",)
        for sql in ("INSERT INTO vault.secrets (secret) VALUES ('x')", "UPDATE vault.secrets SET secret = 'x'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute(sql)
        conn.execute("SET LOCAL ROLE service_role")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with conn.transaction():
                conn.execute("SELECT decrypted_secret FROM vault.decrypted_secrets")
