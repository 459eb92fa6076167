-- litellm_completions: the lines of the files read as `litellm` (gateway_lines: JSON Lines, or one line per `.json`
-- file of a folder the S3/GCS loggers write), one row per LiteLLM StandardLoggingPayload, in the shape of
-- 08_completions: `id` is the event id, `trace_id` (which groups the retries and fallbacks of one user request) the
-- request id, `startTime` (epoch seconds) the time, `messages` the conversation, `model_parameters.tools` (or
-- `.functions`) the tools offered, `response.choices[0].message` the answer, `model` the model. `status:
-- failure` (or a response without choices) is teacher_error; a message logging turned off shows as the intent
-- 'redacted-by-litellm' (redacted, 08_raw_gateway).
-- Each line is parsed once for all the fields read from it (json_extract with a list of paths).
-- Reads: gateway_lines, the macros of 07_*. Params: $outcome_path (a JSON path or NULL). Writes: litellm_completions.
CREATE OR REPLACE TABLE litellm_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no, line
    FROM gateway_lines
    WHERE log_format = 'litellm'
),
fields AS (  -- one parse of each line
    SELECT file_order, source_file, line_no,
           try(json_extract(line, [
               '$.id', '$.trace_id', '$.startTime', '$.messages', '$.model_parameters.tools',
               '$.model_parameters.functions', '$.response.choices', '$.response.error', '$.status', '$.model',
               coalesce(CAST($outcome_path AS VARCHAR), '$.__no_outcome_field__')])) AS f,
           left(ltrim(left(line, 64)), 1) = '{' AS starts_as_object
    FROM lines
),
objects AS (  -- a line is a record when it is valid JSON (json_extract did not fail) and an object
    SELECT * EXCLUDE (starts_as_object), f IS NOT NULL AND starts_as_object AS is_object FROM fields
),
read_out AS (
    SELECT *, conversation(f[4]) AS conv, assistant_message(message) AS m
    FROM (SELECT *, CASE WHEN json_type(f[7]) = 'ARRAY' THEN json_extract(f[7], '$[0].message') END AS message
          FROM objects)
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN (f[9] ->> '$') = 'failure' OR coalesce(json_type(f[8]), 'NULL') <> 'NULL'
          OR coalesce(json_array_length(f[7]), 0) = 0 THEN 'teacher_error'
        WHEN f[1] IS NULL OR f[2] IS NULL OR f[3] IS NULL OR f[4] IS NULL THEN 'missing_field'
        WHEN json_type(f[1]) <> 'VARCHAR' OR json_type(f[2]) <> 'VARCHAR'
          OR json_type(f[3]) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
          OR conv IS NULL OR NOT chat_calls_ok(message, m) THEN 'bad_type'
        WHEN coalesce(list_last(conv).role, '') IN ('tool', 'function') THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(f[1] ->> '$' AS VARCHAR) AS event_id,
    CAST(f[2] ->> '$' AS VARCHAR) AS request_id,
    to_timestamp(TRY_CAST(f[3] ->> '$' AS DOUBLE)) AS ts,
    CAST(f[10] ->> '$' AS VARCHAR) AS model,
    CAST(last_user_text(conv) AS VARCHAR) AS intent,
    offered_tools(f[5], f[6]) AS offered,
    chat_calls(m) AS calls,
    CAST(content_text(m.content) AS VARCHAR) AS content,
    CAST(f[11] AS VARCHAR) AS inline_outcome
FROM read_out
