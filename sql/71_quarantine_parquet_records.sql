-- quarantine records from Parquet: rebuild each quarantined Parquet row (all its columns, extra fields too) as
-- JSON. Only quarantined rows are rebuilt, so the cost is one extra scan, not a JSON encoding of every row.
-- Reads: quarantine, the Parquet files in $files. Writes: quarantine.record.
UPDATE quarantine q
SET record = src.record
FROM (
    SELECT filename, file_row_number + 1 AS line,
           to_json(struct_pack(*COLUMNS(* EXCLUDE (filename, file_row_number)))) AS record
    FROM read_parquet($files, filename = true, file_row_number = true, union_by_name = true)
) src
WHERE q.record IS NULL AND src.filename = q.source_file AND src.line = q.source_line
