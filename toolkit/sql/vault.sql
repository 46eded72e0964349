-- Secrets the database itself needs (the processor's URL key for pg_net), kept in Supabase
-- Vault. A hosted `postgres` reads vault.secrets but writes only through Vault's functions.

-- name: find
SELECT id FROM vault.secrets WHERE name = %(name)s;

-- name: create
SELECT vault.create_secret(%(value)s, %(name)s, %(description)s);

-- name: update
SELECT vault.update_secret(%(id)s, %(value)s, NULL, %(description)s);

-- name: list
SELECT name, description, created_at, updated_at FROM vault.secrets ORDER BY name;
