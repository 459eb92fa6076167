-- cached files: the state of the files NOT read in this build comes from their cache entries (one Parquet file
-- per table in store/cache/snapshot/files/<key>/, written by earlier builds from the file_* tables).
-- cached_table('<table>.parquet') reads that table of every cached file, with the file's position in this build
-- (file_order); an entry shared by two positions (the same bytes given twice) counts for each.
-- Reads: build_files(file_order, path, entry_dir, cached, context_dir, context_cached). Writes: macro cached_table.
SET VARIABLE cached_entries = (SELECT list(DISTINCT entry_dir) FROM build_files WHERE cached);
CREATE OR REPLACE MACRO cached_table(table_file) AS TABLE
    SELECT b.file_order, t.* EXCLUDE (filename)
    FROM read_parquet(list_transform(getvariable('cached_entries'), lambda d: d || '/' || table_file), filename = true) t
    JOIN build_files b ON b.cached AND t.filename = b.entry_dir || '/' || table_file;
