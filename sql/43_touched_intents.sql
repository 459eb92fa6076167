-- touched_intents: the intents whose result this build computes: every intent with state in a file that is not
-- carried (build_files.carried: the file is among the first files of an earlier build whose merged result the
-- cache holds, `results/` entries). The result of any other intent depends only on the carried files' state and
-- their places, which are the earlier build's, so 45_intent_stats and 60_rows take it from that build. With nothing
-- carried (a first or full build) every intent is touched.
-- When every file that is not carried was read in this session with its place (the daily case), its state is in
-- the file_* tables, first_pairs and correction_rows, and no cache entry is scanned; otherwise the all_* views.
-- Reads: all_candidates, all_surfaces, all_first_pairs, all_corrections, file_candidates, file_surfaces,
-- first_pairs, correction_rows, build_files. Writes: touched_intents(intent).
SET VARIABLE uncarried_from_cache = (
    SELECT count(*) > 0 FROM build_files WHERE NOT carried AND (cached OR context_cached)
);
CREATE OR REPLACE TABLE touched_intents AS
SELECT DISTINCT t.intent
FROM (
    SELECT file_order, intent FROM file_candidates WHERE NOT getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM file_surfaces WHERE NOT getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM first_pairs WHERE NOT getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM correction_rows WHERE NOT getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM all_candidates WHERE getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM all_surfaces WHERE getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM all_first_pairs WHERE getvariable('uncarried_from_cache')
    UNION ALL SELECT file_order, intent FROM all_corrections WHERE getvariable('uncarried_from_cache')
) t
SEMI JOIN build_files b ON b.file_order = t.file_order AND NOT b.carried
