-- all_accounting: file_accounting over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_accounting. Writes: all_accounting (view).
CREATE OR REPLACE VIEW all_accounting AS
SELECT * FROM cached_table('accounting.parquet') UNION ALL BY NAME SELECT * FROM file_accounting
