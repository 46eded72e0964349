-- Toolkit schema version 8: rename_plan_objects as in version 6, its empty word map typed
-- (plpgsql_check: an untyped literal assigned to jsonb is an implicit cast). Nothing else changes.

-- remove_suffix: rename the plan's objects in public (p_objects: old -> new, as
-- toolkit.final.rename_plan found them) with what hangs off them (constraints, indexes,
-- sequences, triggers, policies carrying p_suffix), then the function bodies and pg_cron jobs
-- that name them (p_cron_jobs: job names old -> new). Everything is refused before the first
-- change if a new name is taken or a cron job to change belongs to another role. Runs in the
-- caller's transaction, as the caller (on Supabase: postgres, the objects' owner).
CREATE OR REPLACE FUNCTION toolkit.rename_plan_objects(p_objects jsonb, p_cron_jobs jsonb, p_suffix text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    ns      constant oid := 'public'::regnamespace;
    olds    text[] := ARRAY(SELECT pg_catalog.jsonb_object_keys(p_objects));
    words   jsonb := '{}'::jsonb;
    r       record;
    renamed integer := 0;
    src     text;
    cron    boolean := pg_catalog.to_regclass('cron.job') IS NOT NULL;
BEGIN
    IF EXISTS (SELECT FROM toolkit.final_renames) THEN
        RAISE EXCEPTION 'the plan''s objects are renamed already (toolkit.final_renames holds the renames)'
            USING HINT = 'revert phase 6 first';
    END IF;
    -- Refuse a taken name before anything changes.
    SELECT n.new INTO r
    FROM pg_catalog.jsonb_each_text(p_objects) AS n(old, new)
    WHERE (EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = ns AND relname = n.new)
           OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace = ns AND proname = n.new)
           OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace = ns AND typname = n.new))
      AND (EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = ns AND relname = n.old)
           OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace = ns AND proname = n.old)
           OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace = ns AND typname = n.old))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot rename the plan''s objects: public.% exists already', r.new
            USING HINT = 'rename or drop that object (it is not the plan''s), then apply phase 6 again';
    END IF;
    IF cron THEN
        EXECUTE 'SELECT j.jobname, j.username FROM cron.job AS j
                 WHERE (j.jobname = ANY ($1) OR j.command ~ $2) AND j.username <> current_user::text
                   AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) LIMIT 1'
        INTO r USING ARRAY(SELECT pg_catalog.jsonb_object_keys(p_cron_jobs)),
                     '\m(' || pg_catalog.array_to_string(olds, '|') || ')\M';
        IF r.jobname IS NOT NULL THEN
            RAISE EXCEPTION 'the cron job % belongs to %; pg_cron lets only its owner change it, so nothing was renamed',
                r.jobname, r.username
                USING HINT = 'have it re-created as ' || current_user || ', then apply phase 6 again';
        END IF;
    END IF;

    -- What hangs off the plan's tables, before the tables: constraints (with the index behind
    -- a key), other indexes, owned sequences, triggers, policies. Inherited constraints and
    -- cloned triggers follow their parent's rename.
    FOR r IN
        -- A key's constraint is renamed with its index (ALTER INDEX renames both, on partitions too).
        SELECT 'constraint' AS kind, c.oid, c.conrelid AS relid, c.conname AS old,
               toolkit.unsuffixed(c.conname, p_suffix) AS new, t.relname AS tbl
        FROM pg_catalog.pg_constraint AS c JOIN pg_catalog.pg_class AS t ON t.oid = c.conrelid
        WHERE t.relnamespace = ns AND t.relname = ANY (olds) AND c.coninhcount = 0 AND c.contype NOT IN ('p', 'u', 'x')
          AND toolkit.unsuffixed(c.conname, p_suffix) IS NOT NULL
        UNION ALL
        SELECT 'index', i.oid, x.indrelid, i.relname, toolkit.unsuffixed(i.relname, p_suffix), t.relname
        FROM pg_catalog.pg_index AS x
        JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
        JOIN pg_catalog.pg_class AS t ON t.oid = x.indrelid
        WHERE t.relnamespace = ns AND t.relname = ANY (olds) AND toolkit.unsuffixed(i.relname, p_suffix) IS NOT NULL
        UNION ALL
        SELECT 'sequence', s.oid, d.refobjid, s.relname, toolkit.unsuffixed(s.relname, p_suffix), t.relname
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_class AS s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_catalog.pg_class AS t ON t.oid = d.refobjid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
          AND t.relnamespace = ns AND t.relname = ANY (olds) AND NOT s.relname = ANY (olds)
          AND toolkit.unsuffixed(s.relname, p_suffix) IS NOT NULL
        UNION ALL
        SELECT 'trigger', g.oid, g.tgrelid, g.tgname, toolkit.unsuffixed(g.tgname, p_suffix), t.relname
        FROM pg_catalog.pg_trigger AS g JOIN pg_catalog.pg_class AS t ON t.oid = g.tgrelid
        WHERE t.relnamespace = ns AND t.relname = ANY (olds) AND NOT g.tgisinternal AND g.tgparentid = 0
          AND toolkit.unsuffixed(g.tgname, p_suffix) IS NOT NULL
        UNION ALL
        SELECT 'policy', p.oid, p.polrelid, p.polname, toolkit.unsuffixed(p.polname, p_suffix), t.relname
        FROM pg_catalog.pg_policy AS p JOIN pg_catalog.pg_class AS t ON t.oid = p.polrelid
        WHERE t.relnamespace = ns AND t.relname = ANY (olds) AND toolkit.unsuffixed(p.polname, p_suffix) IS NOT NULL
        ORDER BY 1, 4
    LOOP
        EXECUTE CASE r.kind
            WHEN 'constraint' THEN pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', r.relid::regclass, r.old, r.new)
            WHEN 'index' THEN pg_catalog.format('ALTER INDEX public.%I RENAME TO %I', r.old, r.new)
            WHEN 'sequence' THEN pg_catalog.format('ALTER SEQUENCE public.%I RENAME TO %I', r.old, r.new)
            WHEN 'trigger' THEN pg_catalog.format('ALTER TRIGGER %I ON %s RENAME TO %I', r.old, r.relid::regclass, r.new)
            ELSE pg_catalog.format('ALTER POLICY %I ON %s RENAME TO %I', r.old, r.relid::regclass, r.new) END;
        INSERT INTO toolkit.final_renames (kind, oid, relid, old_name, new_name) VALUES (r.kind, r.oid, r.relid, r.old, r.new);
        words := words || pg_catalog.jsonb_build_object(r.old, r.new);
        renamed := renamed + 1;
    END LOOP;

    -- The plan's relations, types and functions.
    FOR r IN
        SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                              WHEN 'c' THEN 'type' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'relation' END AS kind,
               CASE WHEN c.relkind = 'c' THEN c.reltype ELSE c.oid END AS oid, c.relname AS old, p_objects ->> c.relname AS new
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = ns AND c.relname = ANY (olds)
        UNION ALL
        SELECT 'type', t.oid, t.typname, p_objects ->> t.typname
        FROM pg_catalog.pg_type AS t
        WHERE t.typnamespace = ns AND t.typname = ANY (olds) AND t.typtype IN ('e', 'd', 'r', 'm')
        UNION ALL
        SELECT 'function', p.oid, p.proname, p_objects ->> p.proname
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = ns AND p.proname = ANY (olds)
        ORDER BY 1, 3
    LOOP
        EXECUTE CASE r.kind
            WHEN 'function' THEN pg_catalog.format('ALTER ROUTINE %s RENAME TO %I', r.oid::regprocedure, r.new)
            WHEN 'type' THEN pg_catalog.format('ALTER TYPE public.%I RENAME TO %I', r.old, r.new)
            WHEN 'relation' THEN pg_catalog.format('ALTER TABLE public.%I RENAME TO %I', r.old, r.new)
            ELSE pg_catalog.format('ALTER %s public.%I RENAME TO %I', pg_catalog.upper(r.kind), r.old, r.new) END;
        INSERT INTO toolkit.final_renames (kind, oid, old_name, new_name) VALUES (r.kind, r.oid, r.old, r.new);
        words := words || pg_catalog.jsonb_build_object(r.old, r.new);
        renamed := renamed + 1;
    END LOOP;
    -- Names built in a body from a prefix ('api_call_queue_v2_' || status) follow too.
    words := p_objects || words;

    -- Function bodies that name what was renamed (SQL-standard bodies follow by oid already).
    FOR r IN
        SELECT p.oid, p.prosrc FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
        WHERE p.pronamespace = ns AND l.lanname IN ('plpgsql', 'sql') AND p.prosqlbody IS NULL
          AND p.prosrc ~ ('\m(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.jsonb_object_keys(words)), '|') || ')\M')
    LOOP
        src := toolkit.rename_words(r.prosrc, words);
        EXECUTE pg_catalog.replace(pg_catalog.pg_get_functiondef(r.oid), r.prosrc, src);
        INSERT INTO toolkit.final_renames (kind, oid, old_name, new_name, before)
        VALUES ('function_body', r.oid, r.oid::regprocedure::text, r.oid::regprocedure::text, r.prosrc);
    END LOOP;

    -- pg_cron jobs: renamed ones are scheduled again under the new name (pg_cron cannot rename
    -- a job), and every command naming a renamed object is rewritten.
    IF cron THEN
        FOR r IN EXECUTE
            'SELECT j.jobid, j.jobname, j.schedule, j.command, j.nodename, j.nodeport, j.database, j.username, j.active
             FROM cron.job AS j WHERE j.jobname = ANY ($1) OR j.command ~ $2 ORDER BY j.jobid'
            USING ARRAY(SELECT pg_catalog.jsonb_object_keys(p_cron_jobs)),
                  '\m(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.jsonb_object_keys(words)), '|') || ')\M'
        LOOP
            INSERT INTO toolkit.final_renames (kind, oid, old_name, new_name, before)
            VALUES ('cron_job', r.jobid, r.jobname, coalesce(p_cron_jobs ->> r.jobname, r.jobname), pg_catalog.to_jsonb(r)::text);
            IF p_cron_jobs ? r.jobname THEN
                EXECUTE 'SELECT cron.unschedule($1)' USING r.jobid;
                EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4, NULL, $5)'
                USING p_cron_jobs ->> r.jobname, r.schedule, toolkit.rename_words(r.command, words), r.database, r.active;
            ELSE
                EXECUTE 'SELECT cron.alter_job($1, command := $2)' USING r.jobid, toolkit.rename_words(r.command, words);
            END IF;
        END LOOP;
    END IF;
    RETURN renamed;
END
$$;
