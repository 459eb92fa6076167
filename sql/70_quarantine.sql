-- quarantine: every rejected input row with its reason, its position in its file and the original record.
-- Reads: checked_calls. Writes: quarantine (Parquet records are filled in by 71_quarantine_parquet_records).
CREATE OR REPLACE TABLE quarantine AS
SELECT
    source_file, source_line,
    final_reason AS reason,
    event_id, request_id,
    CAST(ts AS VARCHAR) AS ts,  -- as parsed (UTC); the original text is in `record`
    intent_raw AS intent, tool, exported, response,
    record
FROM checked_calls
WHERE final_reason IS NOT NULL
ORDER BY source_file, source_line
