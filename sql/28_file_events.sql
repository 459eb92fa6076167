-- file_events: per file read, each distinct event_id of its well-typed rows in the build window (the rows the
-- duplicate_event check covers) with the first line it appears on; keyed by two 64-bit hashes of the id (a
-- 128-bit key), so a later file's repeat of an earlier file's event is found without the ids (34_corrections).
-- A view of event_lines, which 25_checked_calls groups from every row once for its own check of repeats.
-- Reads: event_lines (25_checked_calls). Writes: file_events(file_order, event_a, event_b, source_line) (view).
CREATE OR REPLACE VIEW file_events AS
SELECT file_order, event_hash AS event_a, event_b, first_line AS source_line
FROM event_lines
