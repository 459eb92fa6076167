-- parquet_files: the Parquet files read in this build and their positions on the command line, as a session
-- variable the raw views read (views cannot take prepared parameters).
-- Params: $files (list of paths, in command-line order), $orders (each file's position among all --logs files,
-- the file_order of its rows). Writes: parquet_files (variable: path -> file_order).
SET VARIABLE parquet_files = map($files, $orders)
