-- outcomes: whether each request was exported, from the --outcomes files (outcome_records: one row per outcome
-- record, already read into (request_id, exported) by pipelines.outcomes: {request_id, exported} records, or a
-- Langfuse scores export's rows of the chosen score). A request is exported when any of its records is true.
-- Reads: outcome_records(request_id, exported). Writes: outcomes(request_id, exported).
CREATE OR REPLACE TABLE outcomes AS
SELECT CAST(request_id AS VARCHAR) AS request_id, bool_or(coalesce(exported, false)) AS exported
FROM outcome_records
WHERE request_id IS NOT NULL
GROUP BY request_id
