-- checked_calls: every call of the build with exactly one outcome: NULL (valid) or the first quarantine reason in
-- the contract's order: bad_record, missing_field, bad_type (from 10_calls), duplicate_event, unknown_tool,
-- empty_intent, intent_too_long, then no_json, invalid_json, schema_violation (from parsed_outputs). Valid calls
-- carry their normalized intent, canonical output and whether it uses the tool.
-- A repeated event_id keeps its first occurrence (file order, then line); repeats are found by hashing the ids
-- first and comparing the strings of colliding hashes only.
-- Reads: calls, parsed_outputs, normalize_intent() (the Python definition, registered as a function and run on
-- distinct raw intents only). Params: $max_intent_chars. Writes: checked_calls.
CREATE OR REPLACE TABLE checked_calls AS
WITH repeated_hashes AS (
    SELECT hash(event_id) AS event_hash
    FROM calls
    WHERE type_reason IS NULL
    GROUP BY event_hash
    HAVING count(*) > 1
),
repeated_events AS (  -- event ids seen more than once, with their first occurrence
    SELECT event_id, min((file_order, source_line)) AS first_seen
    FROM calls
    WHERE type_reason IS NULL AND hash(event_id) IN (SELECT event_hash FROM repeated_hashes)
    GROUP BY event_id
    HAVING count(*) > 1
),
normalized AS (
    SELECT intent_raw, normalize_intent(intent_raw) AS intent
    FROM (SELECT DISTINCT intent_raw FROM calls WHERE type_reason IS NULL)
),
record_checked AS (
    SELECT
        c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.json_tail, c.intent_raw, n.intent,
        coalesce(
            c.type_reason,
            CASE WHEN r.event_id IS NOT NULL AND (c.file_order, c.source_line) <> r.first_seen
                 THEN 'duplicate_event' END,
            CASE WHEN c.tool NOT IN ('adjust', 'selective_adjust', 'filter') THEN 'unknown_tool' END,
            CASE WHEN n.intent = '' THEN 'empty_intent' END,
            CASE WHEN length(n.intent) > $max_intent_chars THEN 'intent_too_long' END
        ) AS record_reason
    FROM calls c
    LEFT JOIN repeated_events r ON c.type_reason IS NULL AND r.event_id = c.event_id
    LEFT JOIN normalized n ON c.type_reason IS NULL AND n.intent_raw = c.intent_raw
)
SELECT
    c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.intent_raw, c.intent,
    CAST(coalesce(c.record_reason, o.reason) AS VARCHAR) AS final_reason,
    CASE WHEN c.record_reason IS NULL THEN o.canonical END AS canonical,
    CASE WHEN c.record_reason IS NULL THEN o.used END AS used
FROM record_checked c
LEFT JOIN parsed_outputs o ON c.record_reason IS NULL AND o.tool = c.tool AND o.text = c.json_tail
