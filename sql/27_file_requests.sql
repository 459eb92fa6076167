-- file_requests: per file read, its distinct (intent, request_id) pairs of valid calls with how many valid calls
-- each has there; n_calls (distinct requests per intent) is counted over all files from these (41_first_pairs).
-- A pair is keyed by two 64-bit hashes of differently arranged texts (a 128-bit key; 35_correction_rows computes
-- the same key): files are matched by it without carrying the request ids.
-- Reads: checked_calls, intents. Writes: file_requests(file_order, intent, pair_a, pair_b, n).
CREATE OR REPLACE TABLE file_requests AS
WITH per_raw AS (
    SELECT file_order, raw_id, request_id, count(*) AS n
    FROM checked_calls
    WHERE final_reason IS NULL
    GROUP BY file_order, raw_id, request_id
)
SELECT
    r.file_order, i.intent,
    hash(i.intent || chr(31) || r.request_id) AS pair_a,
    hash(chr(31) || r.request_id || chr(31) || i.intent) AS pair_b,
    CAST(sum(r.n) AS BIGINT) AS n
FROM per_raw r
JOIN intents i USING (raw_id)
GROUP BY r.file_order, i.intent, pair_a, pair_b
