-- pg_net may serve other code of the project: it is left installed.
SELECT 1;
