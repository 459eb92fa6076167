-- quarantine: every rejected input row with its reason, its file and line, and the original record; the
-- record's fields are read again from `raw` for the rejected rows only.
-- Reads: checked_calls, raw. Writes: quarantine (Parquet records: 71_quarantine_parquet_records).
CREATE OR REPLACE TABLE quarantine AS
WITH rejected AS (
    SELECT file_order, source_line, final_reason FROM checked_calls WHERE final_reason IS NOT NULL
)
SELECT
    r.source_file, r.source_line,
    q.final_reason AS reason,
    r.event_id, r.request_id,
    CAST(r.ts AS VARCHAR) AS ts,  -- as parsed (UTC); the original text is in `record`
    r.intent, r.tool, r.exported, r.response,
    r.record
FROM raw r
JOIN rejected q ON q.file_order = r.file_order AND q.source_line = r.source_line
ORDER BY r.source_file, r.source_line
