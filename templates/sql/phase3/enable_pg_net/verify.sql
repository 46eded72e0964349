SELECT toolkit.check(to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') IS NOT NULL
                     AND to_regclass('net._http_response') IS NOT NULL,
                     'pg_net is installed (net.http_post and net._http_response exist)');
