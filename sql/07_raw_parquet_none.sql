-- raw_parquet when no Parquet file is given: an empty relation of raw_jsonl's shape.
CREATE OR REPLACE VIEW raw_parquet AS
SELECT * FROM raw_jsonl LIMIT 0
