-- candidates: per (intent, tool, canonical output) of the valid calls of all files, how often the teacher gave it
-- and how often the user exported the result: every file's counts, less its corrected rows (now duplicate_event).
-- Outputs that canonicalize alike (e.g. an enum value in two spellings) merge here. Only the touched intents'.
-- Reads: all_candidates, all_corrections, touched_intents. Writes: candidates.
CREATE OR REPLACE TABLE candidates AS
WITH counted AS (
    SELECT intent, tool, canonical, used, calls, exports FROM all_candidates
    WHERE intent IN (SELECT intent FROM touched_intents)
    UNION ALL
    SELECT intent, tool, canonical, used, -count(*), -count(*) FILTER (WHERE exported)
    FROM all_corrections
    WHERE partial_reason IS NULL AND intent IN (SELECT intent FROM touched_intents)
    GROUP BY intent, tool, canonical, used
)
SELECT
    intent, tool, canonical,
    any_value(used) AS used,
    CAST(sum(calls) AS BIGINT) AS calls,
    CAST(sum(exports) AS BIGINT) AS exports
FROM counted
GROUP BY intent, tool, canonical
HAVING sum(calls) > 0
