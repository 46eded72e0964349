-- Toolkit schema version 5: a checklist item may be answered `inconclusive` (an automated
-- check that had too little data to judge; the run is then incomplete, not passed).
ALTER TABLE toolkit.checklist_answers DROP CONSTRAINT checklist_answers_result_check;
ALTER TABLE toolkit.checklist_answers ADD CONSTRAINT checklist_answers_result_check
    CHECK (result IN ('pass', 'fail', 'skip', 'inconclusive'));
