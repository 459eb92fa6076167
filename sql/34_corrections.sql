-- corrections: the rows that repeat an event of an EARLIER file (--logs order) and so become duplicate_event,
-- for the files whose context is not cached (build_files.context_cached false). Only the first line of an event
-- in its file can be one: its later lines are duplicate_event within the file already (25_checked_calls).
-- Two ways to the same rows, chosen by no_context_cached (the other branch is dropped by the planner):
-- - some contexts cached: the target files' events are materialized first (target_events, a temp table of this
--   model, from the files read now and, only when one is a target, the cached ones: a daily build never scans
--   the history's events twice), so the join builds its hash table on them (one new day's events, not every
--   day's) and streams the cached events past it once;
-- - none cached (a first or full build): one grouping of every event key instead of a join of every file's
--   events with every other file's: each key seen in two files keeps its earliest file, and the key's first line
--   in every later file is a correction.
-- Reads: all_events, build_files, no_context_cached. Writes: corrections(file_order, source_line).
SET VARIABLE cached_targets = (SELECT count(*) > 0 FROM build_files WHERE cached AND NOT context_cached);
CREATE OR REPLACE TEMP TABLE target_events AS
SELECT e.* FROM file_events e SEMI JOIN build_files b ON b.file_order = e.file_order AND NOT b.context_cached
WHERE NOT getvariable('no_context_cached')
UNION ALL BY NAME  -- a cached file in a new place (reordered --logs): its events come from its entry
SELECT e.* FROM cached_table('events.parquet') e SEMI JOIN build_files b ON b.file_order = e.file_order AND NOT b.context_cached
WHERE NOT getvariable('no_context_cached') AND getvariable('cached_targets');
CREATE OR REPLACE TABLE corrections AS
WITH repeated AS (  -- no context cached: each event key seen in two files, with its earliest file
    SELECT event_a, event_b, min(file_order) AS first_file
    FROM all_events
    WHERE getvariable('no_context_cached')
    GROUP BY event_a, event_b
    HAVING count(*) > 1
)
SELECT DISTINCT t.file_order, t.source_line
FROM target_events t
JOIN (  -- the events whose first hash meets a target's (the repeats, and rare collisions): a one-key probe of
        -- the history's events, half the cost of probing both keys of every one of them
    SELECT e.* FROM all_events e SEMI JOIN target_events t ON t.event_a = e.event_a
    WHERE NOT getvariable('no_context_cached')
) e ON e.event_a = t.event_a AND e.event_b = t.event_b AND e.file_order < t.file_order
WHERE NOT getvariable('no_context_cached')
UNION ALL
SELECT e.file_order, e.source_line
FROM all_events e
JOIN repeated r ON r.event_a = e.event_a AND r.event_b = e.event_b AND e.file_order > r.first_file
WHERE getvariable('no_context_cached');
