-- first_pairs when no file's context is cached (a first or full build): the same counts as 41_first_pairs, by one
-- grouping of every kept pair: a pair counts for the earliest file in which it keeps a valid call.
-- Reads: all_requests, all_corrections. Writes: first_pairs (appends).
INSERT INTO first_pairs
WITH removed AS (
    SELECT file_order, pair_a, pair_b, count(*) AS n
    FROM all_corrections WHERE partial_reason IS NULL
    GROUP BY file_order, pair_a, pair_b
),
kept AS (
    SELECT r.file_order, r.intent, r.pair_a, r.pair_b
    FROM all_requests r
    LEFT JOIN removed d ON d.file_order = r.file_order AND d.pair_a = r.pair_a AND d.pair_b = r.pair_b
    WHERE r.n > coalesce(d.n, 0)
)
SELECT first_file AS file_order, intent, count(*) AS n
FROM (SELECT pair_a, pair_b, any_value(intent) AS intent, min(file_order) AS first_file FROM kept GROUP BY pair_a, pair_b)
GROUP BY first_file, intent
