-- corrections: the rows that repeat an event of an EARLIER file (--logs order) and so become duplicate_event,
-- for the files whose context is not cached (build_files.context_cached false). Only the first line of an event
-- in its file can be one: its later lines are duplicate_event within the file already (25_valid_calls).
-- The target files' events (small) meet all events of the build in one hash join.
-- Reads: all_events, build_files. Writes: corrections(file_order, source_line).
CREATE OR REPLACE TABLE corrections AS
SELECT DISTINCT t.file_order, t.source_line
FROM (SELECT * FROM all_events SEMI JOIN build_files b ON b.file_order = all_events.file_order AND NOT b.context_cached) t
JOIN all_events e ON e.event_a = t.event_a AND e.event_b = t.event_b AND e.file_order < t.file_order
