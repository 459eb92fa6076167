-- file_quarantine: every rejected JSON Lines row of the files read now with its reason, its line, its fields and
-- the original line. (Rejected Parquet rows are added by 38_file_quarantine_parquet, in one more scan of those
-- files.) The file's path is added when the build's quarantine is assembled (70_quarantine).
-- Reads: rejected, raw_jsonl. Writes: file_quarantine.
CREATE OR REPLACE TABLE file_quarantine AS
SELECT
    r.file_order, q.corrected, r.source_line,
    q.reason,
    r.event_id, r.request_id,
    CAST(r.ts AS VARCHAR) AS ts,  -- as parsed (UTC); the original text is in `record`
    r.intent, r.tool, r.exported, r.response,
    r.record
FROM raw_jsonl r
JOIN rejected q ON q.file_order = r.file_order AND q.source_line = r.source_line
