-- cached files when every file is read in this build: cached_table() is empty (see 32_cached_files).
CREATE OR REPLACE MACRO cached_table(table_file) AS TABLE SELECT CAST(NULL AS INTEGER) AS file_order WHERE false;
