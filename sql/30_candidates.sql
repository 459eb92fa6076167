-- candidates: per (intent, tool, canonical output) of the valid calls, how often the teacher gave it and how
-- often the user exported the result; and per intent the facts that decide whether it is kept.
-- Reads: checked_calls. Writes: candidates, intent_stats.
CREATE OR REPLACE TABLE candidates AS
SELECT
    intent, tool, canonical,
    any_value(used) AS used,
    CAST(count(*) AS BIGINT) AS calls,
    CAST(count(*) FILTER (WHERE exported) AS BIGINT) AS exports
FROM checked_calls
WHERE final_reason IS NULL
GROUP BY intent, tool, canonical
