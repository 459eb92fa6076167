-- raw: every input record, JSON Lines, Parquet and the gateway logs' rows alike, before any judgement.
-- Reads: raw_jsonl, raw_parquet, raw_gateway (whose line_reason, call_reason, line_no, outcome_matched are NULL
-- for the others). Writes: raw (view).
CREATE OR REPLACE VIEW raw AS
SELECT * FROM raw_jsonl
UNION ALL BY NAME
SELECT * FROM raw_parquet
UNION ALL BY NAME
SELECT * FROM raw_gateway
