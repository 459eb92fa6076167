-- quarantine: every rejected row of the build with its file, line, reason, fields and original record: each
-- file's own rejected rows (cached or read now) except its corrected ones, plus the corrected rows as
-- duplicate_event.
-- Reads: cached_table(), file_quarantine, all_corrections, all_correction_quarantine, build_files.
-- Writes: quarantine.
CREATE OR REPLACE TABLE quarantine AS
WITH file_rows AS (
    SELECT * FROM cached_table('quarantine.parquet')
    UNION ALL BY NAME
    SELECT * EXCLUDE (corrected) FROM file_quarantine WHERE NOT corrected
),
kept AS (
    SELECT * FROM file_rows q
    ANTI JOIN all_corrections c ON c.file_order = q.file_order AND c.source_line = q.source_line
    UNION ALL BY NAME
    SELECT * FROM all_correction_quarantine
)
SELECT
    f.path AS source_file, q.source_line, q.reason,
    q.event_id, q.request_id, q.ts, q.intent, q.tool, q.exported, q.response, q.record
FROM kept q
JOIN build_files f USING (file_order)
