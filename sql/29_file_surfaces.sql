-- file_surfaces: per file read and normalized intent, how many valid calls use each stripped surface form (what
-- intent_text counts in 45_intent_stats).
-- Reads: checked_calls, intents. Writes: file_surfaces(file_order, intent, surface, uses).
CREATE OR REPLACE TABLE file_surfaces AS
SELECT v.file_order, i.intent, i.surface, CAST(sum(v.n) AS BIGINT) AS uses
FROM (
    SELECT file_order, raw_id, count(*) AS n FROM checked_calls WHERE final_reason IS NULL GROUP BY file_order, raw_id
) v
JOIN intents i USING (raw_id)
GROUP BY v.file_order, i.intent, i.surface
