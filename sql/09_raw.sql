-- raw: every input record, JSON Lines and Parquet alike, before any judgement.
-- Reads: raw_jsonl, raw_parquet. Writes: raw (view).
CREATE OR REPLACE VIEW raw AS
SELECT * FROM raw_jsonl
UNION ALL BY NAME
SELECT * FROM raw_parquet
