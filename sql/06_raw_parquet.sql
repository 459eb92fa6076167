-- raw_parquet: the Parquet files of parquet_globs (each has the required columns: checked before this runs), in
-- the shape of raw_jsonl. Column types map to the JSON type names the checks use; a NULL cell is 'NULL'
-- (missing_field). A view: the files are read where the records are needed, never copied whole into memory.
-- With no Parquet file in the build it reads the empty file of 02_parquet_globs: no rows.
-- Reads: parquet_globs, parquet_files, iso_instant(). Writes: raw_parquet (view).
CREATE OR REPLACE VIEW raw_parquet AS
SELECT
    filename AS source_file,
    file_row_number + 1 AS source_line,
    CAST(getvariable('parquet_files')[filename] AS INTEGER) AS file_order,  -- position among all --logs files
    true AS is_object,
    CASE WHEN event_id IS NULL THEN 'NULL' ELSE typeof(event_id) END AS event_id_type,
    CAST(event_id AS VARCHAR) AS event_id,
    CASE WHEN request_id IS NULL THEN 'NULL' ELSE typeof(request_id) END AS request_id_type,
    CAST(request_id AS VARCHAR) AS request_id,
    CASE WHEN ts IS NULL THEN 'NULL' WHEN typeof(ts) LIKE 'TIMESTAMP%' THEN 'TIMESTAMP' ELSE typeof(ts) END AS ts_type,
    -- text is read as in JSON Lines (iso_instant); the session is UTC: a naive timestamp or text without offset is UTC
    CASE WHEN typeof(ts) = 'VARCHAR' THEN iso_instant(CAST(ts AS VARCHAR)) ELSE TRY_CAST(ts AS TIMESTAMPTZ) END AS ts,
    CASE WHEN intent IS NULL THEN 'NULL' ELSE typeof(intent) END AS intent_type,
    CAST(intent AS VARCHAR) AS intent,
    CASE WHEN tool IS NULL THEN 'NULL' ELSE typeof(tool) END AS tool_type,
    CAST(tool AS VARCHAR) AS tool,
    CASE WHEN response IS NULL THEN 'NULL' ELSE typeof(response) END AS response_type,
    CAST(response AS VARCHAR) AS response,
    CASE WHEN exported IS NULL THEN 'NULL' ELSE typeof(exported) END AS exported_type,
    CAST(exported AS VARCHAR) AS exported,
    CAST(NULL AS VARCHAR) AS record  -- rebuilt for quarantined rows only (37_file_quarantine)
FROM read_parquet(getvariable('parquet_globs'), filename = true, file_row_number = true, union_by_name = true)
