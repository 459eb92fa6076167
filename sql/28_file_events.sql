-- file_events: per file read, each distinct event_id of its well-typed rows in the build window (the rows the
-- duplicate_event check covers) with the first line it appears on; keyed by two 64-bit hashes of the id (a
-- 128-bit key), so a later file's repeat of an earlier file's event is found without the ids (34_corrections).
-- Reads: calls. Writes: file_events(file_order, event_a, event_b, source_line).
CREATE OR REPLACE TABLE file_events AS
SELECT file_order, event_hash AS event_a, hash(chr(31) || event_id) AS event_b, min(source_line) AS source_line
FROM calls
WHERE type_reason IS NULL
GROUP BY file_order, event_a, event_b
