-- pg_cron runs a job as the role that scheduled it (postgres on Supabase): that role calls
-- net.http_post and reads net._http_response.
GRANT USAGE ON SCHEMA net TO postgres;
GRANT SELECT ON TABLE net._http_response TO postgres;
