-- raw (JSON Lines): parse each line of `raw_lines(source_file, source_line, file_order, line)`.
-- `obj` is the line when it is a JSON object, else NULL (bad_record later); every field is read from `obj`, so a
-- line that is not an object is never parsed twice. (Nested CASE: DuckDB does not short-circuit AND.)
INSERT INTO raw
WITH lines AS (
    SELECT *, CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN line END END AS obj
    FROM raw_lines
)
SELECT
    source_file, source_line, file_order, obj IS NOT NULL,
    json_type(obj, '$.event_id'), obj ->> '$.event_id',
    json_type(obj, '$.request_id'), obj ->> '$.request_id',
    json_type(obj, '$.ts'),
    CASE WHEN json_type(obj, '$.ts') = 'VARCHAR' THEN TRY_CAST(obj ->> '$.ts' AS TIMESTAMPTZ) END,
    json_type(obj, '$.intent'), obj ->> '$.intent',
    json_type(obj, '$.tool'), obj ->> '$.tool',
    json_type(obj, '$.response'), obj ->> '$.response',
    json_type(obj, '$.exported'), obj ->> '$.exported',
    line
FROM lines
