-- checked_calls: every call of `calls` with its final reason (the JSON reasons from parsed_outputs come last)
-- and, for valid calls, the canonical output and whether it uses the tool.
-- Reads: calls, parsed_outputs (20_outputs run on the distinct json_tail texts of calls without a reason)
CREATE OR REPLACE TABLE checked_calls AS
SELECT
    c.*,
    CAST(coalesce(c.reason, o.reason) AS VARCHAR) AS final_reason,
    o.canonical,
    o.used
FROM calls c
LEFT JOIN parsed_outputs o ON c.reason IS NULL AND o.tool = c.tool AND o.text = c.json_tail
