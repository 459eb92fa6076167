-- corrections: the rows that repeat an event of an EARLIER file (--logs order) and so become duplicate_event,
-- for the files whose context is not cached (build_files.context_cached false). Only the first line of an event
-- in its file can be one: its later lines are duplicate_event within the file already (25_valid_calls).
-- The target files' events are materialized first, so the join builds its hash table on them (one new day's
-- events, not every day's) and streams the cached events past it once.
-- Reads: all_events, build_files. Writes: target_events, corrections(file_order, source_line).
CREATE OR REPLACE TEMP TABLE target_events AS
SELECT e.* FROM all_events e SEMI JOIN build_files b ON b.file_order = e.file_order AND NOT b.context_cached;
CREATE OR REPLACE TABLE corrections AS
SELECT DISTINCT t.file_order, t.source_line
FROM target_events t
JOIN all_events e ON e.event_a = t.event_a AND e.event_b = t.event_b AND e.file_order < t.file_order
