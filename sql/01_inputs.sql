-- inputs: the Parquet files of this build, as a session variable the raw views read (views cannot take
-- prepared parameters). Params: $files (list of paths, in command-line order).
SET VARIABLE parquet_files = $files
