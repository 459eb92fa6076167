-- checked_calls: every call of the files read in this build with exactly one outcome: NULL (valid) or the first
-- quarantine reason in the contract's order: bad_record and a gateway line's reasons, missing_field, bad_type
-- (from 10_calls), duplicate_event, unknown_tool, repeated_tool (a gateway row's call_reason), empty_intent,
-- intent_too_long, then no_json, invalid_json, schema_violation (from parsed_outputs).
-- Rows carry small ids (raw intent, output), not strings: this table has one row per input row.
-- Everything here depends on the row's own file only (the per-file state is cached by the file's sha256): a
-- repeated event_id keeps its first line WITHIN the file; a repeat of an event from an earlier file is found by
-- 34_corrections. Repeats are found by hashing the ids first and comparing the strings of colliding hashes only:
-- event_lines (a temp table of this model) groups every row's 128-bit event key (two 64-bit hashes of the id) once,
-- with its first line and rows; the keys on more than one row are the candidates, and 28_file_events is its
-- projection (the one grouping of every row's event).
-- Reads: calls, intents, output_texts, parsed_outputs, pack_tools. Params: $max_intent_chars. Writes: checked_calls.
CREATE OR REPLACE TEMP TABLE event_lines AS
SELECT file_order, event_hash, hash(chr(31) || event_id) AS event_b, min(source_line) AS first_line, count(*) AS n
FROM calls
WHERE type_reason IS NULL
GROUP BY file_order, event_hash, event_b;
CREATE OR REPLACE TABLE checked_calls AS
WITH repeated_hashes AS (  -- a repeated id repeats its whole key; ids alike in both hashes are told apart below
    SELECT DISTINCT file_order, event_hash FROM event_lines WHERE n > 1
),
repeated_events AS (  -- event ids seen more than once in a file, with their first line there
    SELECT c.file_order, c.event_id, min(c.source_line) AS first_line
    FROM calls c
    SEMI JOIN repeated_hashes h ON h.file_order = c.file_order AND h.event_hash = c.event_hash
    WHERE c.type_reason IS NULL
    GROUP BY c.file_order, c.event_id
    HAVING count(*) > 1
),
hashed_outputs AS (  -- 15_output_texts guarantees one text per (tool, tail_hash)
    SELECT t.tool, t.tail_hash, p.output_id, p.reason, p.used
    FROM output_texts t JOIN parsed_outputs p ON p.tool = t.tool AND p.text = t.text
),
record_checked AS (
    SELECT
        c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.tail_hash, i.raw_id,
        coalesce(
            c.type_reason,
            CASE WHEN r.event_id IS NOT NULL AND c.source_line <> r.first_line
                 THEN 'duplicate_event' END,
            CASE WHEN c.tool NOT IN (SELECT tool FROM pack_tools) THEN 'unknown_tool' END,
            c.call_reason,
            CASE WHEN i.intent = '' THEN 'empty_intent' END,
            CASE WHEN length(i.intent) > $max_intent_chars THEN 'intent_too_long' END
        ) AS record_reason
    FROM calls c
    LEFT JOIN repeated_events r ON c.type_reason IS NULL AND r.file_order = c.file_order AND r.event_id = c.event_id
    LEFT JOIN intents i ON c.type_reason IS NULL AND i.intent_hash = c.intent_hash  -- 22_intents: no collisions
)
SELECT
    c.file_order, c.source_line, c.request_id, c.tool, c.exported, c.raw_id,
    CAST(coalesce(c.record_reason, o.reason) AS VARCHAR) AS final_reason,
    CASE WHEN c.record_reason IS NULL THEN o.output_id END AS output_id,
    CASE WHEN c.record_reason IS NULL THEN o.used END AS used
FROM record_checked c
LEFT JOIN hashed_outputs o ON c.record_reason IS NULL AND o.tool = c.tool AND o.tail_hash = c.tail_hash
