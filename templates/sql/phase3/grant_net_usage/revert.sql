-- Grants that pg_net's own installation also gives postgres are left as they are.
SELECT 1;
