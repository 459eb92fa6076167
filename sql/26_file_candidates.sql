-- file_candidates: per file read and (intent, tool, canonical output) of its valid calls, how often the teacher
-- gave it and how often the user exported the result (the file's share of 44_candidates). Rows are counted on
-- integer ids first; only the groups meet the strings.
-- Reads: checked_calls, intents, parsed_outputs. Writes: file_candidates.
CREATE OR REPLACE TABLE file_candidates AS
WITH per_output AS (
    SELECT file_order, raw_id, tool, output_id, count(*) AS calls, count(*) FILTER (WHERE exported) AS exports
    FROM checked_calls
    WHERE final_reason IS NULL
    GROUP BY file_order, raw_id, tool, output_id
)
SELECT
    o.file_order, i.intent, o.tool, p.canonical,
    any_value(p.used) AS used,
    CAST(sum(o.calls) AS BIGINT) AS calls,
    CAST(sum(o.exports) AS BIGINT) AS exports
FROM per_output o
JOIN intents i USING (raw_id)
JOIN parsed_outputs p USING (output_id)
GROUP BY o.file_order, i.intent, o.tool, p.canonical
