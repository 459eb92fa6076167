-- all_candidates: file_candidates over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_candidates. Writes: all_candidates (view).
CREATE OR REPLACE VIEW all_candidates AS
SELECT * FROM cached_table('candidates.parquet') UNION ALL BY NAME SELECT * FROM file_candidates
