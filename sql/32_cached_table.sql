-- cached_table: the state of the files NOT read in this build comes from their cache entries (one Parquet file
-- per table in store/cache/snapshot/files/<key>/, written by earlier builds from the file_* tables).
-- cached_table('<table>.parquet') reads that table of every cached file, with the file's position in this build
-- (file_order); an entry shared by two positions (the same bytes given twice) counts for each.
-- read_parquet needs at least one file: the list always ends with $no_entry, a folder of empty Parquet files of
-- one column, no_entry (written by the caller), so with nothing cached the macro returns no rows and file_order
-- alone (the other tables' columns come with UNION ALL BY NAME).
-- Reads: build_files(file_order, path, entry_dir, cached, context_dir, context_cached). Params: $no_entry (path).
-- Writes: macro cached_table.
SET VARIABLE cached_entries = list_append((SELECT coalesce(list(DISTINCT entry_dir), []) FROM build_files WHERE cached), $no_entry);
CREATE OR REPLACE MACRO cached_table(table_file) AS TABLE
    SELECT b.file_order, t.* EXCLUDE (filename, no_entry)
    FROM read_parquet(
        list_transform(getvariable('cached_entries'), lambda d: d || '/' || table_file), filename = true, union_by_name = true
    ) t
    JOIN build_files b ON b.cached AND t.filename = b.entry_dir || '/' || table_file
    WHERE len(getvariable('cached_entries')) > 1;  -- the placeholder alone: empty, known when the query is planned
