-- raw_jsonl: each line of `raw_lines(source_file, source_line, file_order, line)` as one raw record.
-- Every required field comes as its JSON type name ('VARCHAR', 'BIGINT', 'BOOLEAN', 'NULL', …; NULL = absent)
-- plus its value as text, so the checks downstream are the same for JSON Lines and Parquet.
-- `obj` is the line when it is a JSON object, else NULL (bad_record later); every field is read from `obj`, so a
-- line that is not an object is never parsed twice. (Nested CASE: DuckDB does not short-circuit AND.)
CREATE OR REPLACE VIEW raw_jsonl AS
WITH lines AS (
    SELECT *, CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN line END END AS obj
    FROM raw_lines
)
SELECT
    source_file,
    CAST(source_line AS BIGINT) AS source_line,  -- 1-based line number within the file
    CAST(file_order AS INTEGER) AS file_order,   -- position of the file on the command line
    obj IS NOT NULL AS is_object,
    json_type(obj, '$.event_id') AS event_id_type, obj ->> '$.event_id' AS event_id,
    json_type(obj, '$.request_id') AS request_id_type, obj ->> '$.request_id' AS request_id,
    json_type(obj, '$.ts') AS ts_type,
    CASE WHEN json_type(obj, '$.ts') = 'VARCHAR' THEN iso_instant(obj ->> '$.ts') END AS ts,  -- 03_iso_instant
    json_type(obj, '$.intent') AS intent_type, obj ->> '$.intent' AS intent,
    json_type(obj, '$.tool') AS tool_type, obj ->> '$.tool' AS tool,
    json_type(obj, '$.response') AS response_type, obj ->> '$.response' AS response,
    json_type(obj, '$.exported') AS exported_type, obj ->> '$.exported' AS exported,
    line AS record  -- the original JSON line, for quarantine
FROM lines
