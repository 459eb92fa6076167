-- all_first_pairs: the first request pairs of every file of the build, cached or counted now (41_first_pairs).
-- Reads: cached_context(), first_pairs. Writes: all_first_pairs (view).
CREATE OR REPLACE VIEW all_first_pairs AS
SELECT * FROM cached_context('first_pairs.parquet') UNION ALL BY NAME SELECT * FROM first_pairs
