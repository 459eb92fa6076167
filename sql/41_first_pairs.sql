-- first_pairs: for each file whose context is not cached, per intent, how many of its request pairs have a valid
-- call in it and in no earlier file (--logs order). Summed over the files, that is each intent's n_calls (distinct
-- request ids), counted without ever grouping every pair of every file. A pair keeps a valid call in a file when
-- its calls there outnumber its calls turned duplicate_event by corrections. The target files' pairs are
-- materialized first, so the join builds its hash table on them, not on every file's pairs.
-- Reads: all_requests, all_corrections, build_files. Writes: kept_pairs, target_pairs, first_pairs (appends).
CREATE OR REPLACE TEMP TABLE removed_pairs AS
SELECT file_order, pair_a, pair_b, count(*) AS n
FROM all_corrections WHERE partial_reason IS NULL
GROUP BY file_order, pair_a, pair_b;
CREATE OR REPLACE TEMP VIEW kept_pairs AS
SELECT r.file_order, r.intent, r.pair_a, r.pair_b
FROM all_requests r
LEFT JOIN removed_pairs d ON d.file_order = r.file_order AND d.pair_a = r.pair_a AND d.pair_b = r.pair_b
WHERE r.n > coalesce(d.n, 0);
CREATE OR REPLACE TEMP TABLE target_pairs AS
SELECT k.* FROM kept_pairs k SEMI JOIN build_files b ON b.file_order = k.file_order AND NOT b.context_cached;
INSERT INTO first_pairs
WITH seen_before AS (
    SELECT DISTINCT t.file_order, t.pair_a, t.pair_b
    FROM target_pairs t
    JOIN kept_pairs k ON k.pair_a = t.pair_a AND k.pair_b = t.pair_b AND k.file_order < t.file_order
)
SELECT t.file_order, t.intent, count(*) AS n
FROM target_pairs t
ANTI JOIN seen_before s ON s.file_order = t.file_order AND s.pair_a = t.pair_a AND s.pair_b = t.pair_b
GROUP BY t.file_order, t.intent
