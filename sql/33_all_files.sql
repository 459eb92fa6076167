-- all files: each per-file table over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_candidates, file_requests, file_events, file_surfaces, file_accounting.
-- Writes: views all_candidates, all_requests, all_events, all_surfaces, all_accounting.
CREATE OR REPLACE VIEW all_candidates AS
SELECT * FROM cached_table('candidates.parquet') UNION ALL BY NAME SELECT * FROM file_candidates;
CREATE OR REPLACE VIEW all_requests AS
SELECT * FROM cached_table('requests.parquet') UNION ALL BY NAME SELECT * FROM file_requests;
CREATE OR REPLACE VIEW all_events AS
SELECT * FROM cached_table('events.parquet') UNION ALL BY NAME SELECT * FROM file_events;
CREATE OR REPLACE VIEW all_surfaces AS
SELECT * FROM cached_table('surfaces.parquet') UNION ALL BY NAME SELECT * FROM file_surfaces;
CREATE OR REPLACE VIEW all_accounting AS
SELECT * FROM cached_table('accounting.parquet') UNION ALL BY NAME SELECT * FROM file_accounting;
