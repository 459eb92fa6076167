-- cached_context: what a file's place in the build adds to its own state, from the cache entries of earlier
-- builds (store/cache/snapshot/contexts/<key>/, keyed by the file and every file before it in --logs order):
-- its corrections, their quarantine rows, and its first request pairs. cached_context('<table>.parquet') reads a
-- table of every file whose context is cached, with its file_order; with none cached, no rows and file_order
-- alone (the list always ends with the empty $no_entry folder, as in 32_cached_table).
-- Reads: build_files. Params: $no_entry (path). Writes: macro cached_context.
SET VARIABLE cached_contexts = list_append((SELECT coalesce(list(DISTINCT context_dir), []) FROM build_files WHERE context_cached), $no_entry);
CREATE OR REPLACE MACRO cached_context(table_file) AS TABLE
    SELECT b.file_order, t.* EXCLUDE (filename, no_entry)
    FROM read_parquet(
        list_transform(getvariable('cached_contexts'), lambda d: d || '/' || table_file), filename = true, union_by_name = true
    ) t
    JOIN build_files b ON b.context_cached AND t.filename = b.context_dir || '/' || table_file
    WHERE len(getvariable('cached_contexts')) > 1;  -- the placeholder alone: empty, known when the query is planned
