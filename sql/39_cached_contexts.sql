-- cached contexts: what a file's place in the build adds to its own state, from the cache entries of earlier
-- builds (store/cache/snapshot/contexts/<key>/, keyed by the file and every file before it in --logs order):
-- its corrections, their quarantine rows, and its first request pairs. cached_context('<table>.parquet') reads a
-- table of every file whose context is cached, with its file_order.
-- Reads: build_files. Writes: macro cached_context.
SET VARIABLE cached_contexts = (SELECT list(DISTINCT context_dir) FROM build_files WHERE context_cached);
CREATE OR REPLACE MACRO cached_context(table_file) AS TABLE
    SELECT b.file_order, t.* EXCLUDE (filename)
    FROM read_parquet(list_transform(getvariable('cached_contexts'), lambda d: d || '/' || table_file), filename = true) t
    JOIN build_files b ON b.context_cached AND t.filename = b.context_dir || '/' || table_file;
