-- =====================================================================================
-- LOCAL CLUSTER ONLY: a stand-in for the pg_net 0.20 extension's SQL interface.
-- NEVER run this against a hosted Supabase project: there the real pg_net exists (or can be
-- created), and this script would shadow it with objects no background worker serves.
-- =====================================================================================
--
-- There is no pg_net package for this machine. This file recreates what pg_net 0.20 puts in
-- the database: schema net, its two UNLOGGED tables, the request functions with pg_net's
-- signatures, defaults, errors and privileges, and net.wake(). The requests are sent by
-- toolkit.dev.pg_net.worker, a separate process, instead of pg_net's background worker.
--
-- Run by toolkit.dev.pg_net.install as the local superuser, in one transaction. Idempotent:
-- the tables keep their rows, the functions are replaced.

-- Two installs at once would collide on CREATE OR REPLACE FUNCTION ("tuple concurrently
-- updated"); take turns. The key is arbitrary, fixed for this script.
SELECT pg_catalog.pg_advisory_xact_lock(7346021, 20);

DO $guard$
DECLARE
    real_version text;
    net_comment text;
    missing text;
BEGIN
    -- Hosted projects (and `supabase start` stacks) give no superuser: refusing here keeps
    -- the stand-in off them even when someone points it at the wrong URL.
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'the pg_net stand-in installs only as the local cluster''s superuser, and % is none', current_user
            USING HINT = 'It imitates pg_net on the local cluster; on a hosted project use the real extension (CREATE EXTENSION pg_net).';
    END IF;

    SELECT e.extversion INTO real_version FROM pg_catalog.pg_extension AS e WHERE e.extname = 'pg_net';
    IF FOUND THEN
        RAISE EXCEPTION 'the real pg_net % is installed in database %: the stand-in would shadow it',
                        real_version, pg_catalog.current_database()
            USING HINT = 'Use the real extension here, or DROP EXTENSION pg_net first.';
    END IF;

    -- Keep in step with the COMMENT ON SCHEMA below: it marks the schema as the stand-in's.
    SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') INTO net_comment
    FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'net';
    IF FOUND AND net_comment IS DISTINCT FROM 'LOCAL ONLY: stand-in for pg_net 0.20 (toolkit.dev.pg_net); never on a hosted project' THEN
        RAISE EXCEPTION 'schema net exists in database % and is not the pg_net stand-in''s', pg_catalog.current_database()
            USING HINT = 'It may be left over from a real pg_net or belong to something else; drop or rename it first.';
    END IF;

    SELECT pg_catalog.string_agg(v.role_name, ', ') INTO missing
    FROM (VALUES ('anon'), ('authenticated'), ('service_role')) AS v(role_name)
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r WHERE r.rolname = v.role_name);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the Supabase roles % are missing in this cluster', missing
            USING HINT = 'Run the local compatibility layer first (toolkit local up bootstraps it).';
    END IF;
END
$guard$;

CREATE SCHEMA IF NOT EXISTS net;
COMMENT ON SCHEMA net IS 'LOCAL ONLY: stand-in for pg_net 0.20 (toolkit.dev.pg_net); never on a hosted project';

DO $types$
BEGIN
    IF pg_catalog.to_regtype('net.http_method') IS NULL THEN
        CREATE DOMAIN net.http_method AS text
            CHECK (VALUE ILIKE 'get' OR VALUE ILIKE 'post' OR VALUE ILIKE 'delete');
    END IF;
    -- The result types of net._http_collect_response.
    IF pg_catalog.to_regtype('net.request_status') IS NULL THEN
        CREATE TYPE net.request_status AS ENUM ('PENDING', 'SUCCESS', 'ERROR');
    END IF;
    IF pg_catalog.to_regtype('net.http_response') IS NULL THEN
        CREATE TYPE net.http_response AS (status_code integer, headers jsonb, body text);
    END IF;
    IF pg_catalog.to_regtype('net.http_response_result') IS NULL THEN
        CREATE TYPE net.http_response_result AS (status net.request_status, message text, response net.http_response);
    END IF;
END
$types$;

-- As in pg_net: no primary key on either table, the worker reads the queue in id order and
-- the responses by created (TTL).
CREATE UNLOGGED TABLE IF NOT EXISTS net.http_request_queue (
    id bigserial,
    method net.http_method NOT NULL,
    url text NOT NULL,
    headers jsonb,
    body bytea,
    timeout_milliseconds integer NOT NULL
);

CREATE UNLOGGED TABLE IF NOT EXISTS net._http_response (
    id bigint,
    status_code integer,
    content_type text,
    headers jsonb,
    content text,
    timed_out boolean,
    error_msg text,
    created timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE INDEX IF NOT EXISTS _http_response_created_idx ON net._http_response (created);

-- curl_easy_escape, which pg_net uses: every byte of the UTF-8 text but the unreserved
-- A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex).
CREATE OR REPLACE FUNCTION net._urlencode_string(string varchar)
RETURNS text
LANGUAGE sql
IMMUTABLE STRICT
AS $$
    SELECT coalesce(pg_catalog.string_agg(
               CASE WHEN b.byte BETWEEN 48 AND 57 OR b.byte BETWEEN 65 AND 90 OR b.byte BETWEEN 97 AND 122
                         OR b.byte IN (45, 46, 95, 126)
                    THEN pg_catalog.chr(b.byte)
                    ELSE '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(b.byte), 2, '0'))
               END, '' ORDER BY b.i), '')
    FROM (SELECT i, pg_catalog.get_byte(raw, i) AS byte
          FROM pg_catalog.convert_to(string, 'UTF8') AS raw,
               pg_catalog.generate_series(0, pg_catalog.octet_length(raw) - 1) AS i) AS b
$$;

-- pg_net parses the URL with libcurl's URL API when the request is made, so a malformed URL
-- fails the caller's statement (XX000, pg_net's "invalid URL" text with curl's reason), and
-- appends each already-encoded "key=value" to the query. This covers the checks and the
-- normalisation a caller can meet (scheme, slashes, host, port, empty path), not all of curl's.
CREATE OR REPLACE FUNCTION net._encode_url_with_params_array(url text, params_array text[])
RETURNS text
LANGUAGE plpgsql
IMMUTABLE STRICT
AS $$
DECLARE
    parts text[];
    scheme text;
    rest text;
    authority text;
    host_port text;
    port text;
    remainder text;
    fragment text;
    query text;
    path text;
    param text;
    reason text;
BEGIN
    parts := pg_catalog.regexp_match(url, '^([A-Za-z][A-Za-z0-9+.-]{0,39}):(/*)(.*)$');
    IF url ~ '[[:cntrl:] ]' THEN
        reason := 'Malformed input to a URL function';
    ELSIF parts IS NULL THEN
        reason := 'Bad scheme';
    ELSE
        scheme := pg_catalog.lower(parts[1]);
        rest := parts[3];
        -- The schemes a stock libcurl knows; pg_net's worker then allows only http and https.
        IF NOT scheme = ANY (ARRAY['dict', 'file', 'ftp', 'ftps', 'gopher', 'gophers', 'http', 'https',
                                   'imap', 'imaps', 'ldap', 'ldaps', 'mqtt', 'pop3', 'pop3s', 'rtmp',
                                   'rtsp', 'scp', 'sftp', 'smb', 'smbs', 'smtp', 'smtps', 'telnet',
                                   'tftp', 'ws', 'wss']) THEN
            reason := 'Unsupported URL scheme';
        ELSIF pg_catalog.length(parts[2]) NOT BETWEEN 1 AND 3 THEN
            reason := 'Unsupported number of slashes following scheme';
        END IF;
    END IF;

    IF reason IS NULL THEN
        authority := pg_catalog.substring(rest, '^[^/?#]*');
        remainder := pg_catalog.substr(rest, pg_catalog.length(authority) + 1);
        host_port := pg_catalog.regexp_replace(authority, '^.*@', '');
        IF host_port LIKE '[%' THEN
            port := pg_catalog.substring(host_port, '^\[[^]]*\]:(.*)$');
            host_port := pg_catalog.substring(host_port, '^(\[[^]]*\])');
        ELSIF pg_catalog.strpos(host_port, ':') > 0 THEN
            port := pg_catalog.substring(host_port, ':([^:]*)$');
            host_port := pg_catalog.substring(host_port, '^(.*):[^:]*$');
        END IF;
        IF coalesce(host_port, '') = '' AND scheme <> 'file' THEN
            reason := 'No host part in the URL';
        ELSIF port <> '' AND (CASE WHEN port ~ '^[0-9]{1,5}$' THEN port::integer > 65535 ELSE true END) THEN
            reason := 'Port number was not a decimal number between 0 and 65535';
        END IF;
    END IF;

    IF reason IS NOT NULL THEN
        RAISE EXCEPTION 'invalid URL "%": %', url, reason USING ERRCODE = 'internal_error';
    END IF;

    IF pg_catalog.strpos(remainder, '#') > 0 THEN
        fragment := pg_catalog.substr(remainder, pg_catalog.strpos(remainder, '#') + 1);
        remainder := pg_catalog.substr(remainder, 1, pg_catalog.strpos(remainder, '#') - 1);
    END IF;
    IF pg_catalog.strpos(remainder, '?') > 0 THEN
        query := pg_catalog.substr(remainder, pg_catalog.strpos(remainder, '?') + 1);
        path := pg_catalog.substr(remainder, 1, pg_catalog.strpos(remainder, '?') - 1);
    ELSE
        path := remainder;
    END IF;

    -- curl's CURLU_APPENDQUERY: an '&' goes between the old query and each new part.
    FOREACH param IN ARRAY params_array LOOP
        CONTINUE WHEN param IS NULL;
        IF coalesce(query, '') = '' THEN
            query := param;
        ELSIF query LIKE '%&' THEN
            query := query || param;
        ELSE
            query := query || '&' || param;
        END IF;
    END LOOP;

    RETURN scheme || '://' || authority || CASE WHEN path = '' THEN '/' ELSE path END
           || coalesce('?' || query, '') || coalesce('#' || fragment, '');
END
$$;

-- pg_net's wake() asks its background worker, at commit, to read the queue. Here that is a
-- notification, which PostgreSQL also delivers only at commit (and never for a transaction
-- that rolls back); the worker LISTENs on this channel (see worker.sql).
CREATE OR REPLACE FUNCTION net.wake()
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.pg_notify('toolkit_pg_net_wake', '')
$$;

-- Same texts as pg_net's. The worker is a client backend here, known by its application_name
-- (toolkit.dev.pg_net.worker.APPLICATION_NAME), which pg_stat_activity shows to every role.
CREATE OR REPLACE FUNCTION net.check_worker_is_up()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- pg_net has one worker, for pg_net.database_name; the stand-in one per database it serves.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity AS a
                   WHERE a.application_name = 'pg_net 0.20 worker (toolkit local stand-in)'
                     AND a.datname = pg_catalog.current_database()) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'the pg_net background worker is not up',
            DETAIL = 'the pg_net background worker is down due to an internal error and cannot process requests',
            HINT = 'make sure that you didn''t modify any of pg_net internal tables';
    END IF;
END
$$;
COMMENT ON FUNCTION net.check_worker_is_up() IS 'raises an exception if the pg_net background worker is not up, otherwise it doesn''t return anything';

-- What every request function does once its arguments are checked: the URL with its
-- params, queued for the worker, which the commit wakes.
CREATE OR REPLACE FUNCTION net._enqueue(method net.http_method, url text, params jsonb, headers jsonb,
                                        body bytea, timeout_milliseconds integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    request_id bigint;
BEGIN
    INSERT INTO net.http_request_queue (method, url, headers, body, timeout_milliseconds)
    VALUES (method,
            net._encode_url_with_params_array(url, ARRAY(
                SELECT net._urlencode_string(p.key) || '=' || net._urlencode_string(p.value)
                FROM pg_catalog.jsonb_each_text(params) WITH ORDINALITY AS p(key, value, n)
                WHERE p.value IS NOT NULL ORDER BY p.n)),
            headers, body, timeout_milliseconds)
    RETURNING id INTO request_id;
    PERFORM net.wake();
    RETURN request_id;
END
$$;

-- The request functions: SECURITY INVOKER and executable by PUBLIC, as pg_net >= 0.12 ships
-- them and Supabase leaves them (its grant_pg_net_access trigger changes only older versions).
-- The caller inserts into the queue itself, hence the table and sequence grants at the end.
CREATE OR REPLACE FUNCTION net.http_get(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN net._enqueue('GET', url, params, headers, NULL, timeout_milliseconds);
END
$$;

CREATE OR REPLACE FUNCTION net.http_post(
    url text,
    body jsonb DEFAULT '{}'::jsonb,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    content_type text;
BEGIN
    SELECT h.value INTO content_type
    FROM pg_catalog.jsonb_each_text(coalesce(headers, '{}'::jsonb)) AS h(name, value)
    WHERE pg_catalog.lower(h.name) = 'content-type'
    LIMIT 1;

    IF content_type IS NULL THEN
        -- As in pg_net, headers => NULL stays NULL (jsonb || is strict): no headers at all.
        headers := headers || '{"Content-Type": "application/json"}'::jsonb;
    ELSIF content_type <> 'application/json' THEN
        RAISE EXCEPTION 'Content-Type header must be "application/json"';
    END IF;

    RETURN net._enqueue('POST', url, params, headers, pg_catalog.convert_to(body::text, 'UTF8'), timeout_milliseconds);
END
$$;

CREATE OR REPLACE FUNCTION net.http_delete(
    url text,
    params jsonb DEFAULT '{}'::jsonb,
    headers jsonb DEFAULT '{}'::jsonb,
    timeout_milliseconds integer DEFAULT 5000,
    body jsonb DEFAULT NULL::jsonb
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN net._enqueue('DELETE', url, params, headers, pg_catalog.convert_to(body::text, 'UTF8'), timeout_milliseconds);
END
$$;

-- Waits in 50 ms steps, as pg_net's does; each check is a new statement and so sees a
-- response committed meanwhile.
CREATE OR REPLACE FUNCTION net._await_response(request_id bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM net._http_response AS r WHERE r.id = request_id) LOOP
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION net._http_collect_response(request_id bigint, async boolean DEFAULT true)
RETURNS net.http_response_result
LANGUAGE plpgsql
AS $$
DECLARE
    rec net._http_response;
BEGIN
    IF NOT async THEN
        PERFORM net._await_response(request_id);
    END IF;

    SELECT * INTO rec FROM net._http_response AS r WHERE r.id = request_id;

    -- pg_net cannot tell a pending request from an unknown id either.
    IF NOT FOUND OR rec.error_msg IS NOT NULL THEN
        RETURN ROW('ERROR', coalesce(rec.error_msg, 'request matching request_id not found'), NULL)::net.http_response_result;
    END IF;
    RETURN ROW('SUCCESS', 'ok', ROW(rec.status_code, rec.headers, rec.content)::net.http_response)::net.http_response_result;
END
$$;

-- pg_net's own grants, then the one Supabase adds for its API roles. The tables and the
-- sequence are open to PUBLIC because SECURITY INVOKER request functions insert as the caller.
GRANT USAGE ON SCHEMA net TO PUBLIC;
GRANT USAGE ON SCHEMA net TO postgres, anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA net TO PUBLIC;
GRANT ALL ON ALL TABLES IN SCHEMA net TO PUBLIC;
