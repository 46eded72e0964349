-- Toolkit schema version 2: a step has revisions (templates/README.md). The ledger records
-- which revision of each step is deployed, and the catalog fingerprint of the step's objects
-- as the toolkit left them ({identity: digest}, see toolkit/catalog.py), from which `phase
-- plan` tells when the database no longer matches. Steps applied before this version are
-- at revision 1, without a fingerprint.
ALTER TABLE toolkit.ledger
    ADD COLUMN revision integer NOT NULL DEFAULT 1 CONSTRAINT ledger_revision_positive CHECK (revision > 0),
    ADD COLUMN objects  jsonb;
ALTER TABLE toolkit.ledger ALTER COLUMN revision DROP DEFAULT;

ALTER TABLE toolkit.history ADD COLUMN revision integer;
ALTER TABLE toolkit.history DROP CONSTRAINT history_action_check;
ALTER TABLE toolkit.history ADD CONSTRAINT history_action_check
    CHECK (action IN ('apply', 'revert', 'verify', 'force', 'upgrade', 'downgrade'));

-- The catalog fingerprint: every object the current role owns outside the system schemas,
-- the toolkit's own and extensions' members (tables, partitions, views, sequences, composite
-- types, indexes, functions, enum/domain/range types, constraints, triggers, policies): its
-- catalog address, its identity (pg_identify_object: schema-qualified, independent of
-- search_path) and an md5 of what defines it (definition, privileges, row security,
-- comment). The engine learns a step's objects by diffing the catalog around its deploy and
-- keeps their digests in the ledger; `phase plan` compares them with these.
CREATE OR REPLACE FUNCTION toolkit.catalog_objects()
RETURNS TABLE (classid oid, objid oid, identity text, digest text)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    WITH me AS (
        SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = CURRENT_USER
    ), ns AS (
        SELECT n.oid FROM pg_catalog.pg_namespace AS n
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'toolkit')
          AND n.nspname !~ '^(pg_toast|pg_temp_|pg_toast_temp_|toolkit_archive_)'
    ), member AS (
        SELECT d.classid, d.objid FROM pg_catalog.pg_depend AS d WHERE d.deptype = 'e'
    ), rel AS (
        SELECT c.* FROM pg_catalog.pg_class AS c
        WHERE c.relowner = (SELECT oid FROM me) AND c.relnamespace IN (SELECT oid FROM ns)
          AND ('pg_catalog.pg_class'::pg_catalog.regclass, c.oid) NOT IN (SELECT classid, objid FROM member)
    ), found AS (
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AS classid, c.oid AS objid,
               pg_catalog.concat_ws('|', c.relkind, c.reloptions::text, c.relrowsecurity, c.relforcerowsecurity,
                   c.relacl::text, pg_catalog.obj_description(c.oid, 'pg_class'),
                   pg_catalog.pg_get_partkeydef(c.oid), pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                   CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
                   CASE WHEN c.relkind IN ('i', 'I') THEN pg_catalog.pg_get_indexdef(c.oid) END,
                   (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(' ', a.attname,
                               pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                               a.attgenerated, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attacl::text,
                               pg_catalog.col_description(c.oid, a.attnum)), ',' ORDER BY a.attnum)
                    FROM pg_catalog.pg_attribute AS a
                    LEFT JOIN pg_catalog.pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)) AS def
        FROM rel AS c
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c', 'i', 'I')
        UNION ALL
        SELECT p.tableoid, p.oid,
               pg_catalog.concat_ws('|', pg_catalog.pg_get_functiondef(p.oid), p.proacl::text,
                   pg_catalog.obj_description(p.oid, 'pg_proc'))
        FROM pg_catalog.pg_proc AS p
        WHERE p.proowner = (SELECT oid FROM me) AND p.pronamespace IN (SELECT oid FROM ns) AND p.prokind <> 'a'
          AND (p.tableoid, p.oid) NOT IN (SELECT classid, objid FROM member)
        UNION ALL
        SELECT t.tableoid, t.oid,
               pg_catalog.concat_ws('|', t.typtype, pg_catalog.format_type(t.typbasetype, t.typtypmod),
                   t.typnotnull, t.typdefault, t.typacl::text, pg_catalog.obj_description(t.oid, 'pg_type'),
                   (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                    FROM pg_catalog.pg_enum AS e WHERE e.enumtypid = t.oid),
                   (SELECT pg_catalog.string_agg(pg_catalog.pg_get_constraintdef(k.oid), ',' ORDER BY k.conname)
                    FROM pg_catalog.pg_constraint AS k WHERE k.contypid = t.oid))
        FROM pg_catalog.pg_type AS t
        WHERE t.typowner = (SELECT oid FROM me) AND t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm')
          AND (t.tableoid, t.oid) NOT IN (SELECT classid, objid FROM member)
        UNION ALL
        SELECT k.tableoid, k.oid, pg_catalog.pg_get_constraintdef(k.oid)
        FROM pg_catalog.pg_constraint AS k JOIN rel AS c ON c.oid = k.conrelid
        UNION ALL
        SELECT g.tableoid, g.oid, pg_catalog.pg_get_triggerdef(g.oid)
        FROM pg_catalog.pg_trigger AS g JOIN rel AS c ON c.oid = g.tgrelid
        WHERE NOT g.tgisinternal
        UNION ALL
        SELECT y.tableoid, y.oid,
               pg_catalog.concat_ws('|', y.polcmd, y.polpermissive, y.polroles::text,
                   pg_catalog.pg_get_expr(y.polqual, y.polrelid), pg_catalog.pg_get_expr(y.polwithcheck, y.polrelid))
        FROM pg_catalog.pg_policy AS y JOIN rel AS c ON c.oid = y.polrelid
    )
    SELECT f.classid, f.objid, o.type || ' ' || o.identity, pg_catalog.md5(f.def)
    FROM found AS f, pg_catalog.pg_identify_object(f.classid, f.objid, 0) AS o
$$;
REVOKE ALL ON FUNCTION toolkit.catalog_objects() FROM PUBLIC;
