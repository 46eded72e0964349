-- name: insert_run
INSERT INTO toolkit.frontend_runs (actor, phase, module, checksum, ok, passed, failed, seconds, detail)
VALUES (%(actor)s, %(phase)s, %(module)s, %(checksum)s, %(ok)s, %(passed)s, %(failed)s, %(seconds)s, %(detail)s)
RETURNING id;

-- name: insert_test
INSERT INTO toolkit.frontend_tests (run_id, name, area, ok, seconds, message)
VALUES (%(run_id)s, %(name)s, %(area)s, %(ok)s, %(seconds)s, %(message)s);
