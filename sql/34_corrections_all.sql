-- corrections when no file's context is cached (a first or full build): the same rows as 34_corrections, found by
-- one grouping of every event key instead of a join of every file's events with every other file's: each key
-- seen in two files keeps its earliest file, and the key's first line in every later file is a correction.
-- Reads: all_events. Writes: corrections(file_order, source_line).
CREATE OR REPLACE TABLE corrections AS
WITH repeated AS (
    SELECT event_a, event_b, min(file_order) AS first_file
    FROM all_events
    GROUP BY event_a, event_b
    HAVING count(*) > 1
)
SELECT e.file_order, e.source_line
FROM all_events e
JOIN repeated r ON r.event_a = e.event_a AND r.event_b = e.event_b AND e.file_order > r.first_file
