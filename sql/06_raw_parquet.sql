-- raw (Parquet): the files in $files (all have the required columns: checked before this runs).
-- Column types are mapped to the JSON type names the checks use; a NULL cell is 'NULL' (missing_field).
INSERT INTO raw
WITH src AS (
    SELECT * FROM read_parquet($files, filename = true, file_row_number = true, union_by_name = true)
)
SELECT
    filename, file_row_number + 1, list_position($files, filename), true,
    CASE WHEN event_id IS NULL THEN 'NULL' ELSE typeof(event_id) END, CAST(event_id AS VARCHAR),
    CASE WHEN request_id IS NULL THEN 'NULL' ELSE typeof(request_id) END, CAST(request_id AS VARCHAR),
    CASE WHEN ts IS NULL THEN 'NULL' WHEN typeof(ts) LIKE 'TIMESTAMP%' THEN 'TIMESTAMP' ELSE typeof(ts) END,
    TRY_CAST(ts AS TIMESTAMPTZ),  -- a TIMESTAMP column is read as UTC; text is parsed as ISO-8601
    CASE WHEN intent IS NULL THEN 'NULL' ELSE typeof(intent) END, CAST(intent AS VARCHAR),
    CASE WHEN tool IS NULL THEN 'NULL' ELSE typeof(tool) END, CAST(tool AS VARCHAR),
    CASE WHEN response IS NULL THEN 'NULL' ELSE typeof(response) END, CAST(response AS VARCHAR),
    CASE WHEN exported IS NULL THEN 'NULL' ELSE typeof(exported) END, CAST(exported AS VARCHAR),
    NULL
FROM src
