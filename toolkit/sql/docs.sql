-- Queries of the Phase 0 documents (toolkit/docs.py).

-- name: latest_runs
-- The newest finished run of each checklist (and type).
SELECT DISTINCT ON (r.checklist, r.data_type) r.id, r.checklist, r.data_type, r.result, r.started_by,
       r.started_at, r.finished_at
FROM toolkit.checklist_runs AS r
WHERE r.finished_at IS NOT NULL
ORDER BY r.checklist, r.data_type NULLS FIRST, r.finished_at DESC, r.id DESC;

-- name: run_answers
SELECT a.item_id, a.result, a.note, a.evidence, a.answered_by, a.answered_at
FROM toolkit.checklist_answers AS a
WHERE a.run_id = %(run_id)s;
