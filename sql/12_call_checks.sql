-- call_checks: per call, the first record-level quarantine reason in the contract's order (bad_record,
-- missing_field, bad_type, duplicate_event, unknown_tool, empty_intent, intent_too_long) or NULL, and the
-- normalized intent. A repeated event_id keeps its first occurrence (file order, then line).
-- Reads: calls, normalize_intent() (the Python definition, registered as a function, run on distinct intents).
-- Params: $max_intent_chars. Writes: call_checks.
CREATE OR REPLACE TABLE call_checks AS
WITH repeated_events AS (  -- only event_ids that occur more than once, with their first occurrence
    SELECT event_id, min((file_order, source_line)) AS first_seen
    FROM calls
    WHERE type_reason IS NULL
    GROUP BY event_id
    HAVING count(*) > 1
),
normalized AS (
    SELECT intent_raw, normalize_intent(intent_raw) AS intent
    FROM (SELECT DISTINCT intent_raw FROM calls WHERE type_reason IS NULL)
)
SELECT
    c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.json_tail, c.intent_raw,
    n.intent,
    CAST(coalesce(
        c.type_reason,
        CASE WHEN r.event_id IS NOT NULL AND (c.file_order, c.source_line) <> r.first_seen THEN 'duplicate_event' END,
        CASE WHEN c.tool NOT IN ('adjust', 'selective_adjust', 'filter') THEN 'unknown_tool' END,
        CASE WHEN n.intent = '' THEN 'empty_intent' END,
        CASE WHEN length(n.intent) > $max_intent_chars THEN 'intent_too_long' END
    ) AS VARCHAR) AS reason
FROM calls c
LEFT JOIN repeated_events r ON c.type_reason IS NULL AND r.event_id = c.event_id
LEFT JOIN normalized n ON c.type_reason IS NULL AND n.intent_raw = c.intent_raw
