-- langfuse_completions: the lines of the files read as `langfuse` (gateway_lines: the blob-storage export of
-- observations, JSON Lines), one row per observation, in the shape of 08_completions. Only `type = 'GENERATION'`
-- is an LLM call (others: not_a_generation). `input` and `output` are JSON strings (double-encoded: decoded here;
-- an export that holds them as objects is read as it is): the input an OpenAI-shaped {tools, messages} or a bare
-- messages list, the output {role, content, tool_calls} (or a whole completion with `choices`). The event id is
-- the observation `id`, the request id `trace_id`, the time `start_time` ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), the
-- model `provided_model_name`. An observation at level ERROR or without output is teacher_error.
-- Reads: gateway_lines, iso_instant(), the macros of 07_*. Params: $outcome_path (a JSON path or NULL).
-- Writes: langfuse_completions.
CREATE OR REPLACE TABLE langfuse_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no,
           CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN CAST(line AS JSON) END END AS obj
    FROM gateway_lines
    WHERE log_format = 'langfuse'
),
decoded AS (  -- input/output: a JSON string holding JSON (the export's way), or already JSON
    SELECT file_order, source_file, line_no, obj,
           CASE WHEN json_type(obj, '$.input') = 'VARCHAR' THEN
                CASE WHEN json_valid(obj ->> 'input') THEN CAST(obj ->> 'input' AS JSON) END
                ELSE (obj -> 'input') END AS input,
           CASE WHEN json_type(obj, '$.output') = 'VARCHAR' THEN
                CASE WHEN json_valid(obj ->> 'output') THEN CAST(obj ->> 'output' AS JSON) END
                ELSE (obj -> 'output') END AS output
    FROM lines
),
read_out AS (
    SELECT file_order, source_file, line_no, obj IS NOT NULL AS is_object, obj, input, output,
           CASE WHEN json_type(input) = 'ARRAY' THEN input ELSE (input -> 'messages') END AS conversation,
           CASE WHEN json_type(output, '$.choices') = 'ARRAY' THEN (output -> 'choices' -> 0 -> 'message')
                ELSE output END AS message
    FROM decoded
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN (obj ->> 'type') IS DISTINCT FROM 'GENERATION' THEN 'not_a_generation'
        WHEN (obj ->> 'level') = 'ERROR' OR coalesce(json_type(output), 'NULL') = 'NULL' THEN 'teacher_error'
        WHEN (obj ->> 'id') IS NULL OR (obj ->> 'trace_id') IS NULL OR (obj ->> 'start_time') IS NULL
          OR conversation IS NULL THEN 'missing_field'
        WHEN json_type(obj, '$.id') <> 'VARCHAR' OR json_type(obj, '$.trace_id') <> 'VARCHAR'
          OR json_type(obj, '$.start_time') <> 'VARCHAR' OR iso_instant(obj ->> 'start_time') IS NULL
          OR json_type(conversation) <> 'ARRAY' OR json_type(message) <> 'OBJECT'
          OR NOT chat_calls_ok(message) THEN 'bad_type'
        WHEN coalesce(list_last(json_extract(conversation, '$[*]')) ->> 'role', '') IN ('tool', 'function')
          THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(obj ->> 'id' AS VARCHAR) AS event_id,
    CAST(obj ->> 'trace_id' AS VARCHAR) AS request_id,
    iso_instant(obj ->> 'start_time') AS ts,
    CAST(obj ->> 'provided_model_name' AS VARCHAR) AS model,
    CAST(last_user_text(conversation) AS VARCHAR) AS intent,
    offered_tools(CASE WHEN json_type(input) = 'OBJECT' THEN (input -> 'tools') END,
                  CASE WHEN json_type(input) = 'OBJECT' THEN (input -> 'functions') END) AS offered,
    chat_calls(message) AS calls,
    CAST(content_text(message -> 'content') AS VARCHAR) AS content,
    CAST(json_extract(obj, CAST($outcome_path AS VARCHAR)) AS VARCHAR) AS inline_outcome
FROM read_out
