-- quarantine: every rejected JSON Lines row with its reason, its file and line, its fields and the original line.
-- (Rejected Parquet rows are added by 71_quarantine_parquet, in one more scan of those files.)
-- Reads: checked_calls, raw_jsonl. Writes: quarantine.
CREATE OR REPLACE TABLE quarantine AS
SELECT
    r.source_file, r.source_line,
    q.final_reason AS reason,
    r.event_id, r.request_id,
    CAST(r.ts AS VARCHAR) AS ts,  -- as parsed (UTC); the original text is in `record`
    r.intent, r.tool, r.exported, r.response,
    r.record
FROM raw_jsonl r
JOIN checked_calls q ON q.file_order = r.file_order AND q.source_line = r.source_line
WHERE q.final_reason IS NOT NULL
