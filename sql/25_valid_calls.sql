-- checked_calls: every call with its final reason (the JSON reasons from parsed_outputs come last) and, for
-- valid calls, the canonical output and whether it uses the tool.
-- Reads: call_checks, parsed_outputs. Writes: checked_calls.
CREATE OR REPLACE TABLE checked_calls AS
SELECT
    c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.intent_raw, c.intent,
    CAST(coalesce(c.reason, o.reason) AS VARCHAR) AS final_reason,
    o.canonical,
    o.used
FROM call_checks c
LEFT JOIN parsed_outputs o ON c.reason IS NULL AND o.tool = c.tool AND o.text = c.json_tail
