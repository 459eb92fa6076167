-- cached contexts when no file's context is cached: cached_context() is empty (see 39_cached_contexts).
CREATE OR REPLACE MACRO cached_context(table_file) AS TABLE SELECT CAST(NULL AS INTEGER) AS file_order WHERE false;
