"""Rules every database the rollout leaves must keep, read from the catalogs, and plpgsql_check
run over its functions: shared by the tests of phases 0-3 and of Phase 6's renamed objects."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# The RPCs a client role (anon, authenticated) may call, from the plan: the browser module's
# flag check. Everything else a page does goes through the Edge Functions, as service_role.
CLIENT_RPCS = {"is_feature_enabled(text)"}
FRONTEND_MODULE = ROOT / "frontend" / "RealtimeStockManager.ts"
CLIENT_ROLES = ("anon", "authenticated")

# plpgsql_check's default checks (other_warnings and extra_warnings on; performance and
# security hints are a separate, optional class), every finding rather than the first per
# function. A trigger function is checked against a table it is attached to.
PLPGSQL_CHECK = """
SELECT p.oid::regprocedure::text, c.lineno, c.level, c.message, c.detail
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
LEFT JOIN LATERAL (SELECT t.tgrelid FROM pg_catalog.pg_trigger AS t WHERE t.tgfoid = p.oid
                   ORDER BY t.oid LIMIT 1) AS trg ON true
CROSS JOIN LATERAL extensions.plpgsql_check_function_tb(p.oid, coalesce(trg.tgrelid, 0), fatal_errors => false) AS c
WHERE p.pronamespace = ANY (%(schemas)s::regnamespace[])
ORDER BY 1, 2
"""

PLPGSQL_FUNCTIONS = """
SELECT count(*) FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE l.lanname = 'plpgsql' AND p.pronamespace = ANY (%(schemas)s::regnamespace[])
"""

CATALOG_FAULTS = """
WITH fn AS (
    SELECT p.oid, p.pronamespace::regnamespace::text AS schema, p.oid::regprocedure::text AS name, p.proconfig
    FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace IN ('public'::regnamespace, 'toolkit'::regnamespace)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
), rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, c.reloptions
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
)
-- As Supabase's advisor has it (lint 0011): search_path set to the empty string.
SELECT 'function ' || fn.name || ' has no fixed search_path (SET search_path = '''')'
FROM fn WHERE NOT coalesce(fn.proconfig, '{}') && ARRAY['search_path=""']
UNION ALL
SELECT 'view public.' || rel.relname || ' runs with its owner''s rights (no security_invoker)'
FROM rel WHERE rel.relkind = 'v' AND NOT coalesce(rel.reloptions, '{}') @> ARRAY['security_invoker=true']
UNION ALL
SELECT 'materialized view public.' || rel.relname || ' is read with its owner''s rights'
FROM rel WHERE rel.relkind = 'm'
UNION ALL
SELECT 'table public.' || rel.relname || ' has no row-level security'
FROM rel WHERE rel.relkind IN ('r', 'p', 'f') AND NOT rel.relrowsecurity
UNION ALL
SELECT r.role || ' may ' || w.priv || ' public.' || rel.relname
FROM rel, unnest(%(clients)s::text[]) AS r(role),
     unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS w(priv)
WHERE rel.relkind <> 'S' AND pg_catalog.has_table_privilege(r.role, rel.oid, w.priv)
UNION ALL
SELECT r.role || ' may ' || w.priv || ' a column of public.' || rel.relname
FROM rel, unnest(%(clients)s::text[]) AS r(role), unnest(ARRAY['INSERT', 'UPDATE']) AS w(priv)
WHERE rel.relkind <> 'S' AND NOT pg_catalog.has_table_privilege(r.role, rel.oid, w.priv)
  AND pg_catalog.has_any_column_privilege(r.role, rel.oid, w.priv)
UNION ALL
SELECT r.role || ' may ' || w.priv || ' sequence public.' || rel.relname
FROM rel, unnest(%(clients)s::text[]) AS r(role), unnest(ARRAY['USAGE', 'UPDATE']) AS w(priv)
WHERE rel.relkind = 'S' AND pg_catalog.has_sequence_privilege(r.role, rel.oid, w.priv)
UNION ALL
SELECT r.role || ' may CREATE in schema ' || s.name
FROM unnest(%(clients)s::text[]) AS r(role), unnest(ARRAY['public', 'toolkit']) AS s(name)
WHERE pg_catalog.has_schema_privilege(r.role, s.name, 'CREATE')
UNION ALL
SELECT r.role || ' may use schema toolkit'
FROM unnest(%(clients)s::text[]) AS r(role)
WHERE pg_catalog.has_schema_privilege(r.role, 'toolkit', 'USAGE')
ORDER BY 1
"""

CLIENT_CALLABLE = """
SELECT DISTINCT pg_catalog.regexp_replace(p.oid::regprocedure::text, '^public\\.', '')
FROM pg_catalog.pg_proc AS p, unnest(%(clients)s::text[]) AS r(role)
WHERE p.pronamespace = 'public'::regnamespace AND pg_catalog.has_function_privilege(r.role, p.oid, 'EXECUTE')
"""


def frontend_rpcs() -> set[str]:
    """The RPC names the browser module calls."""
    return set(re.findall(r"\.rpc\(\s*\"([a-z_0-9]+)\"", FRONTEND_MODULE.read_text()))


def plpgsql_findings(db, schemas=("public", "toolkit")) -> tuple[list[tuple], int, list[str]]:
    """What plpgsql_check reports on every plpgsql function in `schemas`: the findings, the
    number of functions checked, and the checker's own warnings (a pragma it could not read)."""
    with db.connect(autocommit=True) as conn:
        conn.execute("SET search_path = ''")  # names print schema-qualified
        said: list[str] = []
        conn.add_notice_handler(lambda d: said.append(f"{d.severity}: {d.message_primary}"))
        findings = conn.execute(PLPGSQL_CHECK, {"schemas": list(schemas)}).fetchall()
        checked = conn.execute(PLPGSQL_FUNCTIONS, {"schemas": list(schemas)}).fetchone()[0]
    return findings, checked, [s for s in said if not s.startswith(("NOTICE", "DEBUG", "INFO", "LOG"))]


def catalog_faults(db) -> list[str]:
    """Every way the catalogs break the rules: a function of public or toolkit without a fixed
    search_path, a view of public without security_invoker, a table of public without RLS, and a
    client role that may write anything (or call any function but the client RPCs)."""
    with db.connect(autocommit=True) as conn:
        conn.execute("SET search_path = ''")  # names print schema-qualified
        faults = [r[0] for r in conn.execute(CATALOG_FAULTS, {"clients": list(CLIENT_ROLES)})]
        callable_ = {r[0] for r in conn.execute(CLIENT_CALLABLE, {"clients": list(CLIENT_ROLES)})}
    faults += [f"a client role may call {f}, which is not a client RPC" for f in sorted(callable_ - CLIENT_RPCS)]
    faults += [f"client RPC {f} cannot be called by the client roles" for f in sorted(CLIENT_RPCS - callable_)]
    return faults
