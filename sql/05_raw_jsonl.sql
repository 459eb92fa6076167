-- raw (JSON Lines): parse each line of `raw_lines(source_file, source_line, file_order, line)`.
-- A line that is not a JSON object keeps only its position and text (bad_record later).
INSERT INTO raw
WITH lines AS (
    SELECT *, json_valid(line) AND json_type(line) = 'OBJECT' AS is_object FROM raw_lines
)
SELECT
    source_file, source_line, file_order, is_object,
    CASE WHEN is_object THEN json_type(line, '$.event_id') END, CASE WHEN is_object THEN line ->> '$.event_id' END,
    CASE WHEN is_object THEN json_type(line, '$.request_id') END, CASE WHEN is_object THEN line ->> '$.request_id' END,
    CASE WHEN is_object THEN json_type(line, '$.ts') END,
    CASE WHEN is_object AND json_type(line, '$.ts') = 'VARCHAR' THEN TRY_CAST(line ->> '$.ts' AS TIMESTAMPTZ) END,
    CASE WHEN is_object THEN json_type(line, '$.intent') END, CASE WHEN is_object THEN line ->> '$.intent' END,
    CASE WHEN is_object THEN json_type(line, '$.tool') END, CASE WHEN is_object THEN line ->> '$.tool' END,
    CASE WHEN is_object THEN json_type(line, '$.response') END, CASE WHEN is_object THEN line ->> '$.response' END,
    CASE WHEN is_object THEN json_type(line, '$.exported') END, CASE WHEN is_object THEN line ->> '$.exported' END,
    line
FROM lines
