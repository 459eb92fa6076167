-- all_events: file_events over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_events. Writes: all_events (view).
CREATE OR REPLACE VIEW all_events AS
SELECT * FROM cached_table('events.parquet') UNION ALL BY NAME SELECT * FROM file_events
