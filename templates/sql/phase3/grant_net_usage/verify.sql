SELECT toolkit.check(has_schema_privilege('postgres', 'net', 'USAGE'), 'postgres has USAGE on schema net');
SELECT toolkit.check(has_table_privilege('postgres', 'net._http_response', 'SELECT'), 'postgres can read net._http_response');
