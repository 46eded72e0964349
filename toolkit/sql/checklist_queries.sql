-- Queries of the checklist runner (toolkit/checklists.py), looked up by name.

-- name: latest
SELECT DISTINCT ON (checklist, data_type) checklist, data_type, result
FROM toolkit.checklist_runs
WHERE finished_at IS NOT NULL
ORDER BY checklist, data_type, finished_at DESC, id DESC;

-- name: unfinished
SELECT r.id, r.started_by, r.started_at, (SELECT count(*) FROM toolkit.checklist_answers AS a WHERE a.run_id = r.id)
FROM toolkit.checklist_runs AS r
WHERE r.checklist = %(checklist)s AND r.data_type IS NOT DISTINCT FROM %(data_type)s AND r.finished_at IS NULL
ORDER BY r.started_at DESC, r.id DESC LIMIT 1;

-- name: start
INSERT INTO toolkit.checklist_runs (checklist, data_type, started_by)
VALUES (%(checklist)s, %(data_type)s, %(actor)s) RETURNING id;

-- name: finish
UPDATE toolkit.checklist_runs SET finished_at = now(), result = %(result)s WHERE id = %(id)s;

-- name: answers
SELECT item_id, result, note, evidence, answered_by, answered_at
FROM toolkit.checklist_answers WHERE run_id = %(id)s;

-- name: answer
INSERT INTO toolkit.checklist_answers (run_id, item_id, result, note, evidence, answered_by)
VALUES (%(run_id)s, %(item_id)s, %(result)s, %(note)s, %(evidence)s, %(actor)s)
RETURNING item_id, result, note, evidence, answered_by, answered_at;

-- name: check_session
-- Checks run under the plan's timeouts, so a check never waits long on a live system's locks.
SELECT set_config('lock_timeout', %(lock_timeout)s, true), set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('toolkit.actor', %(actor)s, true);

-- name: run
SELECT id, checklist, data_type, started_by, started_at, finished_at, result
FROM toolkit.checklist_runs WHERE id = %(id)s;

-- name: newest_run
SELECT id, checklist, data_type, started_by, started_at, finished_at, result
FROM toolkit.checklist_runs ORDER BY started_at DESC, id DESC LIMIT 1;
