-- no_context_cached: true when no file's context is cached (a first or full build). 34_corrections and
-- 41_first_pairs then take one grouping of every file's keys instead of a join of the new files with all files
-- (the same rows; cheaper when every file is new): a constant, so DuckDB drops the branch not taken.
-- Reads: build_files. Writes: no_context_cached (variable).
SET VARIABLE no_context_cached = (SELECT NOT coalesce(bool_or(context_cached), false) FROM build_files)
