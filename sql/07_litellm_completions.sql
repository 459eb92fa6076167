-- litellm_completions: the lines of the files read as `litellm` (gateway_lines: JSON Lines, or one line per `.json`
-- file of a folder the S3/GCS loggers write), one row per LiteLLM StandardLoggingPayload, in the shape of
-- 08_completions: `id` is the event id, `trace_id` (which groups the retries and fallbacks of one user request) the
-- request id, `startTime` (epoch seconds) the time, `messages` the conversation, `model_parameters.tools` (or
-- `.functions`) the tools offered, `response.choices[0].message` the answer, `model` the model. `status:
-- failure` (or a response without choices) is teacher_error; a message logging turned off shows as the intent
-- 'redacted-by-litellm' (redacted, 08_raw_gateway).
-- Reads: gateway_lines, the macros of 07_*. Params: $outcome_path (a JSON path or NULL). Writes: litellm_completions.
CREATE OR REPLACE TABLE litellm_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no,
           CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN CAST(line AS JSON) END END AS obj
    FROM gateway_lines
    WHERE log_format = 'litellm'
),
read_out AS (
    SELECT file_order, source_file, line_no, obj IS NOT NULL AS is_object, obj,
           (obj -> 'response' -> 'choices' -> 0 -> 'message') AS message,
           (obj -> 'messages') AS conversation
    FROM lines
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN (obj ->> 'status') = 'failure'
          OR coalesce(json_type(obj, '$.response.error'), 'NULL') <> 'NULL'
          OR coalesce(json_array_length(obj, '$.response.choices'), 0) = 0 THEN 'teacher_error'
        WHEN (obj ->> 'id') IS NULL OR (obj ->> 'trace_id') IS NULL OR json_type(obj, '$.startTime') IS NULL
          OR conversation IS NULL THEN 'missing_field'
        WHEN json_type(obj, '$.id') <> 'VARCHAR' OR json_type(obj, '$.trace_id') <> 'VARCHAR'
          OR json_type(obj, '$.startTime') NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
          OR json_type(conversation) <> 'ARRAY' OR NOT chat_calls_ok(message) THEN 'bad_type'
        WHEN coalesce(list_last(json_extract(conversation, '$[*]')) ->> 'role', '') IN ('tool', 'function')
          THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(obj ->> 'id' AS VARCHAR) AS event_id,
    CAST(obj ->> 'trace_id' AS VARCHAR) AS request_id,
    to_timestamp(TRY_CAST(obj ->> 'startTime' AS DOUBLE)) AS ts,
    CAST(obj ->> 'model' AS VARCHAR) AS model,
    CAST(last_user_text(conversation) AS VARCHAR) AS intent,
    offered_tools(obj -> 'model_parameters' -> 'tools', (obj -> 'model_parameters' -> 'functions')) AS offered,
    chat_calls(message) AS calls,
    CAST(content_text(message -> 'content') AS VARCHAR) AS content,
    CAST(json_extract(obj, CAST($outcome_path AS VARCHAR)) AS VARCHAR) AS inline_outcome
FROM read_out
