-- langfuse_completions: the lines of the files read as `langfuse` (gateway_lines: the blob-storage export of
-- observations, JSON Lines), one row per observation, in the shape of 08_completions. Only `type = 'GENERATION'`
-- is an LLM call (others: not_a_generation). `input` and `output` are JSON strings (double-encoded: decoded here;
-- an export that holds them as objects is read as it is): the input an OpenAI-shaped {tools, messages} or a bare
-- messages list, the output {role, content, tool_calls} (or a whole completion with `choices`). The event id is
-- the observation `id`, the request id `trace_id`, the time `start_time` ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), the
-- model `provided_model_name`. An observation at level ERROR or without output is teacher_error.
-- Each line is parsed once for all the fields read from it (json_extract with a list of paths).
-- Reads: gateway_lines, iso_instant(), the macros of 07_*. Params: $outcome_path (a JSON path or NULL).
-- Writes: langfuse_completions.
CREATE OR REPLACE TABLE langfuse_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no, line
    FROM gateway_lines
    WHERE log_format = 'langfuse'
),
fields AS (  -- one parse of each line
    SELECT file_order, source_file, line_no,
           try(json_extract(line, [
               '$.id', '$.trace_id', '$.type', '$.start_time', '$.input', '$.output', '$.level',
               '$.provided_model_name', coalesce(CAST($outcome_path AS VARCHAR), '$.__no_outcome_field__')])) AS f,
           left(ltrim(left(line, 64)), 1) = '{' AS starts_as_object
    FROM lines
),
objects AS (  -- a line is a record when it is valid JSON (json_extract did not fail) and an object
    SELECT * EXCLUDE (starts_as_object), f IS NOT NULL AND starts_as_object AS is_object FROM fields
),
decoded AS (  -- input/output: a JSON string holding JSON (the export's way), or already JSON
    SELECT *,
           CASE WHEN json_type(f[5]) = 'VARCHAR' THEN
                CASE WHEN json_valid(f[5] ->> '$') THEN CAST(f[5] ->> '$' AS JSON) END ELSE f[5] END AS input,
           CASE WHEN json_type(f[6]) = 'VARCHAR' THEN
                CASE WHEN json_valid(f[6] ->> '$') THEN CAST(f[6] ->> '$' AS JSON) END ELSE f[6] END AS output
    FROM objects
),
read_out AS (
    SELECT *, conversation(conversation_json) AS conv, assistant_message(message) AS m
    FROM (
        SELECT *,
               CASE WHEN json_type(input) = 'ARRAY' THEN input ELSE json_extract(input, '$.messages') END
                   AS conversation_json,
               CASE WHEN json_type(output, '$.choices') = 'ARRAY' THEN json_extract(output, '$.choices[0].message')
                    ELSE output END AS message
        FROM decoded
    )
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN (f[3] ->> '$') IS DISTINCT FROM 'GENERATION' THEN 'not_a_generation'
        WHEN (f[7] ->> '$') = 'ERROR' OR coalesce(json_type(output), 'NULL') = 'NULL' THEN 'teacher_error'
        WHEN f[1] IS NULL OR f[2] IS NULL OR f[4] IS NULL OR conversation_json IS NULL THEN 'missing_field'
        WHEN json_type(f[1]) <> 'VARCHAR' OR json_type(f[2]) <> 'VARCHAR'
          OR json_type(f[4]) <> 'VARCHAR' OR iso_instant(f[4] ->> '$') IS NULL
          OR conv IS NULL OR json_type(message) <> 'OBJECT' OR NOT chat_calls_ok(message, m) THEN 'bad_type'
        WHEN coalesce(list_last(conv).role, '') IN ('tool', 'function') THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(f[1] ->> '$' AS VARCHAR) AS event_id,
    CAST(f[2] ->> '$' AS VARCHAR) AS request_id,
    iso_instant(f[4] ->> '$') AS ts,
    CAST(f[8] ->> '$' AS VARCHAR) AS model,
    CAST(last_user_text(conv) AS VARCHAR) AS intent,
    offered_tools(CASE WHEN json_type(input) = 'OBJECT' THEN json_extract(input, '$.tools') END,
                  CASE WHEN json_type(input) = 'OBJECT' THEN json_extract(input, '$.functions') END) AS offered,
    chat_calls(m) AS calls,
    CAST(content_text(m.content) AS VARCHAR) AS content,
    CAST(f[9] AS VARCHAR) AS inline_outcome
FROM read_out
