-- The snapshot's selection written by hand in one DuckDB script, for bench/snapshot_handwritten.py: no quarantine,
-- no accounting, no version, no exact string checks behind the hashes; the yardstick the issue measured databuild
-- against. Reads: the variable `files` (Parquet paths, in --logs order). Leaves: picked(intent, tool, canonical,
-- n_calls).
CREATE OR REPLACE TEMP TABLE calls AS
SELECT
    list_position(getvariable('files'), filename) AS file_no, file_row_number AS line,
    event_id, request_id, lower(trim(intent)) AS intent, tool, exported IN (true) AS exported,
    hash(CASE WHEN strpos(response, 'JSON:') > 0 THEN substr(response, strpos(response, 'JSON:') + 5)
              ELSE response END) AS tail_hash,
    CASE WHEN strpos(response, 'JSON:') > 0 THEN substr(response, strpos(response, 'JSON:') + 5)
         ELSE response END AS tail
FROM read_parquet(getvariable('files'), filename = true, file_row_number = true)
WHERE event_id IS NOT NULL AND request_id IS NOT NULL AND intent IS NOT NULL AND response IS NOT NULL;

CREATE OR REPLACE TEMP TABLE firsts AS  -- first occurrence per event id: group the ids seen twice, anti-join
WITH repeated AS (
    SELECT event_id, min((file_no, line)) AS first_seen FROM calls GROUP BY event_id HAVING count(*) > 1
)
SELECT c.intent, c.tool, c.exported, c.request_id, c.tail_hash
FROM calls c
ANTI JOIN repeated r ON r.event_id = c.event_id AND (c.file_no, c.line) <> r.first_seen;

CREATE OR REPLACE TEMP TABLE outputs AS  -- each distinct text parsed once and re-serialized
SELECT tool, tail_hash, CASE WHEN json_valid(trim(min(tail))) THEN CAST(json(trim(min(tail))) AS VARCHAR) END AS canonical
FROM calls
GROUP BY tool, tail_hash;

CREATE OR REPLACE TEMP TABLE picked AS
WITH candidates AS (
    SELECT f.intent, f.tool, o.canonical, count(*) AS calls, count(*) FILTER (WHERE f.exported) AS exports
    FROM firsts f JOIN outputs o USING (tool, tail_hash)
    WHERE o.canonical IS NOT NULL
    GROUP BY f.intent, f.tool, o.canonical
),
per_intent AS (
    SELECT f.intent, count(DISTINCT f.request_id) AS n_calls
    FROM firsts f JOIN outputs o USING (tool, tail_hash)
    WHERE o.canonical IS NOT NULL
    GROUP BY f.intent
    HAVING count(*) FILTER (WHERE f.exported) > 0 AND count(DISTINCT f.tool) = 3
)
SELECT c.intent, c.tool, c.canonical, p.n_calls
FROM candidates c JOIN per_intent p USING (intent)
QUALIFY row_number() OVER (
    PARTITION BY c.intent, c.tool ORDER BY c.exports / c.calls DESC, c.exports DESC, c.calls DESC, c.canonical
) = 1;
