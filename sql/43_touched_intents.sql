-- touched_intents: the intents whose result this build computes: every intent with state in a file that is not
-- carried (build_files.carried: the file is among the first files of an earlier build whose merged result the
-- cache holds, `results/` entries). The result of any other intent depends only on the carried files' state and
-- their places, which are the earlier build's, so 45_intent_stats and 60_rows take it from that build. With nothing
-- carried (a first or full build) every intent is touched.
-- Reads: all_candidates, all_surfaces, all_first_pairs, all_corrections, build_files.
-- Writes: touched_intents(intent).
CREATE OR REPLACE TABLE touched_intents AS
SELECT DISTINCT t.intent
FROM (
    SELECT file_order, intent FROM all_candidates
    UNION ALL SELECT file_order, intent FROM all_surfaces
    UNION ALL SELECT file_order, intent FROM all_first_pairs
    UNION ALL SELECT file_order, intent FROM all_corrections
) t
SEMI JOIN build_files b ON b.file_order = t.file_order AND NOT b.carried
