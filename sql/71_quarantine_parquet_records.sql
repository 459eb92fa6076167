-- quarantine records from Parquet: each quarantined Parquet row (all its columns, extra fields too) as JSON.
-- The rows are picked first, so only they are encoded.
-- Reads: quarantine, the Parquet files of 01_inputs. Writes: quarantine.record.
UPDATE quarantine q
SET record = src.record
FROM (
    SELECT filename, line, to_json(struct_pack(*COLUMNS(* EXCLUDE (filename, file_row_number, line)))) AS record
    FROM (
        SELECT *, file_row_number + 1 AS line
        FROM read_parquet(getvariable('parquet_files'), filename = true, file_row_number = true, union_by_name = true)
        WHERE (filename, file_row_number + 1) IN (SELECT (source_file, source_line) FROM quarantine)
    )
) src
WHERE q.record IS NULL AND src.filename = q.source_file AND src.line = q.source_line
