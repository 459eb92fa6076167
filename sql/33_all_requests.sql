-- all_requests: file_requests over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_requests. Writes: all_requests (view).
CREATE OR REPLACE VIEW all_requests AS
SELECT * FROM cached_table('requests.parquet') UNION ALL BY NAME SELECT * FROM file_requests
