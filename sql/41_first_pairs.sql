-- first_pairs: for each file whose context is not cached, per intent, how many of its request pairs have a valid
-- call in it and in no earlier file (--logs order). Summed over the files, that is each intent's n_calls (distinct
-- request ids), counted without ever grouping every pair of every file. A pair keeps a valid call in a file when
-- its calls there outnumber its calls turned duplicate_event by corrections (kept_pairs(), a temp macro of this
-- model). Two ways to the same counts, chosen by no_context_cached (the other branch is dropped by the planner):
-- - some contexts cached: the target files' pairs are materialized first (target_pairs, a temp table, from the
--   files read now and, only when one is a target, the cached ones: as 34_corrections, a daily build never scans
--   the history's pairs twice), so the join builds its hash table on them, not on every file's pairs;
-- - none cached (a first or full build): one grouping of every kept pair: a pair counts for the earliest file in
--   which it keeps a valid call.
-- Reads: all_requests, file_requests, cached_table(), all_corrections, build_files, no_context_cached.
-- Writes: first_pairs(file_order, intent, n).
CREATE OR REPLACE TEMP TABLE removed_pairs AS
SELECT file_order, pair_a, pair_b, count(*) AS n
FROM all_corrections WHERE partial_reason IS NULL
GROUP BY file_order, pair_a, pair_b;
CREATE OR REPLACE TEMP MACRO kept_pairs(requests) AS TABLE  -- the pairs of a requests table that keep a valid call
SELECT r.file_order, r.intent, r.pair_a, r.pair_b
FROM query_table(requests) r
LEFT JOIN removed_pairs d ON d.file_order = r.file_order AND d.pair_a = r.pair_a AND d.pair_b = r.pair_b
WHERE r.n > coalesce(d.n, 0);
SET VARIABLE cached_pair_targets = (SELECT count(*) > 0 FROM build_files WHERE cached AND NOT context_cached);
CREATE OR REPLACE TEMP VIEW target_requests AS
SELECT r.* FROM file_requests r SEMI JOIN build_files b ON b.file_order = r.file_order AND NOT b.context_cached
UNION ALL BY NAME  -- a cached file in a new place (reordered --logs): its requests come from its entry
SELECT r.* FROM cached_table('requests.parquet') r
SEMI JOIN build_files b ON b.file_order = r.file_order AND NOT b.context_cached
WHERE getvariable('cached_pair_targets');
CREATE OR REPLACE TEMP TABLE target_pairs AS
SELECT * FROM kept_pairs('target_requests') WHERE NOT getvariable('no_context_cached');
CREATE OR REPLACE TABLE first_pairs AS
WITH seen_before AS (
    SELECT DISTINCT t.file_order, t.pair_a, t.pair_b
    FROM target_pairs t
    JOIN (  -- the pairs whose first hash meets a target's: a one-key probe of the history's pairs (as in 34)
        SELECT k.* FROM kept_pairs('all_requests') k SEMI JOIN target_pairs t ON t.pair_a = k.pair_a
        WHERE NOT getvariable('no_context_cached')
    ) k ON k.pair_a = t.pair_a AND k.pair_b = t.pair_b AND k.file_order < t.file_order
    WHERE NOT getvariable('no_context_cached')
),
first_files AS (  -- no context cached: each kept pair with the earliest file it keeps a valid call in
    SELECT pair_a, pair_b, any_value(intent) AS intent, min(file_order) AS first_file
    FROM kept_pairs('all_requests')
    WHERE getvariable('no_context_cached')
    GROUP BY pair_a, pair_b
)
SELECT CAST(t.file_order AS INTEGER) AS file_order, CAST(t.intent AS VARCHAR) AS intent, count(*) AS n
FROM target_pairs t
ANTI JOIN seen_before s ON s.file_order = t.file_order AND s.pair_a = t.pair_a AND s.pair_b = t.pair_b
WHERE NOT getvariable('no_context_cached')
GROUP BY t.file_order, t.intent
UNION ALL
SELECT CAST(first_file AS INTEGER), intent, count(*)
FROM first_files
GROUP BY first_file, intent;
