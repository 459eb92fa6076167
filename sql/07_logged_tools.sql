-- logged_tools: the tool definitions the logged requests offered (for `snapshot --tools from-logs`), one row per
-- distinct (tool name, definition text) with where it was first offered and when it was last offered.
-- The request is found where each log format keeps it: an openai pair's request body ($request_key, else
-- request / request_body / reqPayload, or a Batch API input line's body), LiteLLM's `model_parameters`, Langfuse's
-- `input` (a JSON string holding {tools, messages}, or that object). Its `tools` are Chat Completions tools
-- ({type: function, function: {...}}, the definition is `function`) or the Responses API's flat ones
-- ({type: function, name, ...}, the definition is the item without `type`); legacy `functions` are definitions.
-- Other tool types (custom, built-in) are not function definitions and are left out. The time of a line is the
-- response's `created`, LiteLLM's `startTime` or Langfuse's `start_time` (UTC); `last_seen` orders the lines of
-- one definition by (time, file_order, source_line), the time first (a line without one counts as the earliest).
-- Distinct `tools` texts are unnested once however many lines repeat them (a gateway log repeats the same list
-- on every line). The definition text is DuckDB's compact JSON of it, in the logged key order.
-- Reads: gateway_lines(file_order, source_line, line), batch_lines(line). Params: $request_key (text or NULL).
-- Writes: logged_tools(name, definition, first_file, first_line, first_position, last_ts, last_file, last_line,
--         lines).
CREATE OR REPLACE TABLE logged_tools AS
WITH objects AS (  -- nested CASE: DuckDB does not short-circuit AND
    SELECT file_order, source_line,
           CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN CAST(line AS JSON) END END AS obj
    FROM (SELECT file_order, source_line, line FROM gateway_lines
          UNION ALL  -- the --batch-input file: request bodies (`body`) of a Batch API output, with no time
          SELECT 0, row_number() OVER (), line FROM batch_lines)
),
requests AS (
    SELECT file_order, source_line,
           coalesce(
               CASE WHEN CAST($request_key AS VARCHAR) IS NOT NULL THEN obj -> CAST($request_key AS VARCHAR) END,
               obj -> 'request', obj -> 'request_body', obj -> 'reqPayload', obj -> 'body', obj -> 'model_parameters',
               CASE WHEN json_type(obj, '$.input') = 'VARCHAR' THEN
                    CASE WHEN json_valid(obj ->> 'input') THEN CAST(obj ->> 'input' AS JSON) END
                    ELSE obj -> 'input' END
           ) AS request,
           coalesce(
               to_timestamp(TRY_CAST(coalesce(obj -> 'response' ->> 'created', obj -> 'response_body' ->> 'created',
                                              obj -> 'respPayload' ->> 'created', obj ->> 'startTime') AS DOUBLE)),
               TRY_CAST(obj ->> 'start_time' AS TIMESTAMP) AT TIME ZONE 'UTC'
           ) AS ts
    FROM objects
    WHERE obj IS NOT NULL
),
offered_lists AS (  -- per line its tools and functions lists, as text: the same list on many lines is one group
    SELECT file_order, source_line, ts,
           CASE WHEN json_type(request, '$.tools') = 'ARRAY' THEN CAST(request -> 'tools' AS VARCHAR) END AS tools_text,
           CASE WHEN json_type(request, '$.functions') = 'ARRAY' THEN CAST(request -> 'functions' AS VARCHAR) END
               AS functions_text
    FROM requests
    WHERE json_type(request) = 'OBJECT'
),
list_texts AS (  -- each distinct pair of lists: its first line and its last line
    SELECT tools_text, functions_text,
           min((file_order, source_line)) AS first_at,
           max((coalesce(ts, TIMESTAMPTZ '-infinity'), file_order, source_line)) AS last_at,  -- no time: earliest
           count(*) AS lines
    FROM offered_lists
    WHERE tools_text IS NOT NULL OR functions_text IS NOT NULL
    GROUP BY tools_text, functions_text
),
items AS (  -- one row per offered item: tools first, then functions, each in its list order
    SELECT first_at, last_at, lines,
           unnest(items) AS item, unnest(range(1, len(items) + 1)) AS position, unnest(is_function) AS is_function
    FROM (
        SELECT first_at, last_at, lines,
               list_concat(coalesce(json_extract(tools_text, '$[*]'), []),
                           coalesce(json_extract(functions_text, '$[*]'), [])) AS items,
               list_concat(list_transform(coalesce(json_extract(tools_text, '$[*]'), []), lambda t: false),
                           list_transform(coalesce(json_extract(functions_text, '$[*]'), []), lambda f: true))
                   AS is_function
        FROM list_texts
    )
),
definitions AS (
    SELECT first_at, last_at, lines, position,
           CASE
               WHEN is_function THEN item
               WHEN coalesce(item ->> 'type', 'function') <> 'function' THEN NULL
               WHEN json_type(item, '$.function') = 'OBJECT' THEN item -> 'function'
               ELSE json_merge_patch(item, '{"type": null}')  -- a flat (Responses API) tool without its `type`
           END AS definition
    FROM items
    WHERE json_type(item) = 'OBJECT'
)
SELECT
    CAST(definition ->> 'name' AS VARCHAR) AS name,
    CAST(definition AS VARCHAR) AS definition,
    CAST(min(first_at)[1] AS INTEGER) AS first_file,
    CAST(arg_min(first_at[2], first_at) AS BIGINT) AS first_line,
    CAST(arg_min(position, first_at) AS BIGINT) AS first_position,
    CAST(nullif(max(last_at)[1], TIMESTAMPTZ '-infinity') AS TIMESTAMPTZ) AS last_ts,  -- NULL: no line told its time
    CAST(max(last_at)[2] AS INTEGER) AS last_file,
    CAST(max(last_at)[3] AS BIGINT) AS last_line,
    CAST(sum(lines) AS BIGINT) AS lines                   -- lines that offered this definition
FROM definitions
WHERE definition IS NOT NULL AND json_type(definition, '$.name') = 'VARCHAR'
GROUP BY definition ->> 'name', CAST(definition AS VARCHAR)
