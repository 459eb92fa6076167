-- quarantine_of(k, parts): the quarantine rows of the build's file k (its file_order), in no order: the file's own
-- rejected rows (from its cache entry's quarantine.parquet, or found now) except its corrected ones, plus its
-- corrected rows as duplicate_event. `parts` lists the cache entry's quarantine.parquet of a cached file and always
-- ends with the $no_entry placeholder (read_parquet needs one file). Rows are known by row_key
-- (37_file_quarantine). The version's quarantine is written one file at a time from this macro: each query reads
-- that file's entry alone, where one view of every file's rows would read every entry again for each file (and a
-- table of them all would hold the whole history's records).
-- Reads: file_quarantine, all_corrections, all_correction_quarantine, build_files. Writes: macro quarantine_of.
CREATE OR REPLACE MACRO quarantine_of(k, parts) AS TABLE
WITH file_rows AS (
    SELECT * EXCLUDE (no_entry) FROM (
        SELECT * FROM read_parquet(parts, union_by_name = true)
        UNION ALL BY NAME
        SELECT * EXCLUDE (file_order, corrected) FROM file_quarantine WHERE NOT corrected AND file_order = k
    )
),
kept AS (
    SELECT * FROM file_rows q
    ANTI JOIN (SELECT source_line FROM all_corrections WHERE file_order = k) c ON c.source_line = q.row_key
    UNION ALL BY NAME
    SELECT * EXCLUDE (file_order) FROM all_correction_quarantine WHERE file_order = k
)
SELECT
    f.path AS source_file, q.source_line, q.reason,
    q.event_id, q.request_id, q.ts, q.intent, q.tool, q.exported, q.response, q.record,
    q.row_key  -- the order within a gateway line (37_file_quarantine); not kept in the version's file
FROM kept q, (SELECT path FROM build_files WHERE file_order = k) f
