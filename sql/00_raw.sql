-- raw: one row per input record, before any judgement. The readers (05_, 06_) insert into it.
-- Each required field comes as its JSON-style type name ('VARCHAR', 'BIGINT', 'BOOLEAN', 'NULL', …; NULL = absent)
-- plus its value as text, so every check downstream is the same for JSON Lines and Parquet.
CREATE OR REPLACE TABLE raw (
    source_file VARCHAR,
    source_line BIGINT,      -- 1-based line (JSON Lines) or row (Parquet) within the file
    file_order INTEGER,      -- position of the file on the command line: "first occurrence" follows it
    is_object BOOLEAN,       -- false: the line is not a JSON object (bad_record)
    event_id_type VARCHAR, event_id VARCHAR,
    request_id_type VARCHAR, request_id VARCHAR,
    ts_type VARCHAR, ts TIMESTAMPTZ,  -- ts NULL with a type present: not parseable
    intent_type VARCHAR, intent VARCHAR,
    tool_type VARCHAR, tool VARCHAR,
    response_type VARCHAR, response VARCHAR,
    exported_type VARCHAR, exported VARCHAR,
    record VARCHAR           -- the original JSON line (Parquet rows are rebuilt for quarantine only)
)
