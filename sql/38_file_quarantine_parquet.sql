-- file_quarantine (Parquet): every rejected Parquet row of the files read now with its reason, fields and the
-- whole original row (extra columns too) as JSON. The rows are picked first, so only they are encoded; one scan.
-- Reads: rejected, the Parquet files of 01_inputs. Writes: file_quarantine (appends).
INSERT INTO file_quarantine
WITH hits AS (
    SELECT *,
           CAST(getvariable('parquet_files')[filename] AS INTEGER) AS hit_file_order,
           file_row_number + 1 AS hit_line
    FROM read_parquet(getvariable('parquet_globs'), filename = true, file_row_number = true, union_by_name = true)
    WHERE (CAST(getvariable('parquet_files')[filename] AS INTEGER), file_row_number + 1)
          IN (SELECT (file_order, source_line) FROM rejected)
)
SELECT
    q.file_order, q.corrected, h.hit_line, q.reason,
    CAST(h.event_id AS VARCHAR), CAST(h.request_id AS VARCHAR),
    CAST(CASE WHEN typeof(h.ts) = 'VARCHAR' THEN iso_instant(CAST(h.ts AS VARCHAR)) ELSE TRY_CAST(h.ts AS TIMESTAMPTZ) END
         AS VARCHAR),
    CAST(h.intent AS VARCHAR), CAST(h.tool AS VARCHAR), CAST(h.exported AS VARCHAR), CAST(h.response AS VARCHAR),
    to_json(struct_pack(*COLUMNS(h.* EXCLUDE (filename, file_row_number, hit_file_order, hit_line))))
FROM hits h
JOIN rejected q ON q.file_order = h.hit_file_order AND q.source_line = h.hit_line
