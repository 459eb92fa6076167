-- file_quarantine: every rejected row of the files read now with its reason, its line, its fields and the
-- original record: for JSON Lines the line itself; for Parquet the whole original row (extra columns too) as JSON,
-- from one more scan of those files in which the rows are picked first, so only they are encoded (with no Parquet
-- file, parquet_globs holds an empty one: no rows); for a gateway log (08_raw_gateway) its line from
-- gateway_lines as it was written (a line whose offered tools were cut down to their names as it loaded gets its
-- list back from gateway_tools: pipelines/slim_lines.py), and `source_line` is that line's number while `row_key`
-- (the row's key in its file, its source_line everywhere else) tells the rows of one line apart. The file's path
-- is added when the build's quarantine is assembled (70_quarantine_of).
-- Reads: rejected, raw_jsonl, raw_gateway, gateway_lines, gateway_tools, the Parquet files of parquet_globs,
-- parquet_files.
-- Writes: file_quarantine.
CREATE OR REPLACE TABLE file_quarantine AS
WITH parquet_hits AS (  -- a semi join on the line: 0.21 s for a 1 M-row file where a filter on (file, line) took 0.35
    SELECT h.*,
           CAST(getvariable('parquet_files')[h.filename] AS INTEGER) AS hit_file_order,
           h.file_row_number + 1 AS hit_line
    FROM read_parquet(getvariable('parquet_globs'), filename = true, file_row_number = true, union_by_name = true) h
    SEMI JOIN rejected q
        ON q.source_line = h.file_row_number + 1 AND q.file_order = CAST(getvariable('parquet_files')[h.filename] AS INTEGER)
)
SELECT
    r.file_order, q.corrected, r.source_line,
    q.reason,
    r.event_id, r.request_id,
    CAST(r.ts AS VARCHAR) AS ts,  -- as parsed (UTC); the original text is in `record`
    r.intent, r.tool, r.exported, r.response,
    r.record,
    r.source_line AS row_key
FROM raw_jsonl r
JOIN rejected q ON q.file_order = r.file_order AND q.source_line = r.source_line
UNION ALL
SELECT
    q.file_order, q.corrected, h.hit_line, q.reason,
    CAST(h.event_id AS VARCHAR), CAST(h.request_id AS VARCHAR),
    CAST(CASE WHEN typeof(h.ts) = 'VARCHAR' THEN iso_instant(CAST(h.ts AS VARCHAR)) ELSE TRY_CAST(h.ts AS TIMESTAMPTZ) END
         AS VARCHAR),
    CAST(h.intent AS VARCHAR), CAST(h.tool AS VARCHAR), CAST(h.exported AS VARCHAR), CAST(h.response AS VARCHAR),
    CAST(to_json(struct_pack(*COLUMNS(h.* EXCLUDE (filename, file_row_number, hit_file_order, hit_line)))) AS VARCHAR),
    h.hit_line
FROM parquet_hits h
JOIN rejected q ON q.file_order = h.hit_file_order AND q.source_line = h.hit_line
UNION ALL
SELECT
    r.file_order, q.corrected, r.line_no, q.reason,
    r.event_id, r.request_id, CAST(r.ts AS VARCHAR), r.intent, r.tool, r.exported, r.response,
    CASE WHEN l.tools_id IS NULL THEN l.line  -- code points, as Python counts them
         ELSE substr(l.line, 1, l.tools_at) || t.tools || substr(l.line, l.tools_at + l.tools_chars + 1) END,
    r.source_line
FROM raw_gateway r
JOIN rejected q ON q.file_order = r.file_order AND q.source_line = r.source_line
JOIN gateway_lines l ON l.file_order = r.file_order AND l.source_line = r.line_no
LEFT JOIN gateway_tools t ON t.tools_id = l.tools_id
