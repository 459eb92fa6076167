-- parquet_globs: the Parquet paths of parquet_files as read_parquet patterns. read_parquet needs at least one
-- file: with no Parquet file in the build, the list holds $no_logs, an empty Parquet file with the raw fields as
-- text (written by the caller), so raw_parquet and file_quarantine read no rows without a variant of their own.
-- read_parquet expands globs, so `a[1].parquet` would read `a1.parquet`: the characters * ? [ are escaped as
-- [*] [?] [[] (Python's glob.escape), and the files are read under the names given.
-- Reads: parquet_files (01_parquet_files). Params: $no_logs (path). Writes: parquet_globs (variable).
SET VARIABLE parquet_globs = list_transform(
    CASE WHEN cardinality(getvariable('parquet_files')) = 0 THEN [$no_logs]
         ELSE map_keys(getvariable('parquet_files')) END,
    lambda f: regexp_replace(f, '([*?\[])', '[\1]', 'g')
)
