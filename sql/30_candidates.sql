-- candidates: per (intent, tool, canonical output) of the valid calls, how often the teacher gave it and how
-- often the user exported the result. Outputs that canonicalize alike (e.g. an enum value in two spellings) merge here.
-- Reads: checked_calls, intents, parsed_outputs. Writes: candidates.
CREATE OR REPLACE TABLE candidates AS
WITH per_output AS (
    SELECT raw_id, tool, output_id, count(*) AS calls, count(*) FILTER (WHERE exported) AS exports
    FROM checked_calls
    WHERE final_reason IS NULL
    GROUP BY raw_id, tool, output_id
)
SELECT
    i.intent, o.tool, p.canonical,
    any_value(p.used) AS used,
    CAST(sum(o.calls) AS BIGINT) AS calls,
    CAST(sum(o.exports) AS BIGINT) AS exports
FROM per_output o
JOIN intents i USING (raw_id)
JOIN parsed_outputs p USING (output_id)
GROUP BY i.intent, o.tool, p.canonical
