-- openai_completions: the lines of the files read as `openai` (gateway_lines), one row per line, in the shape every
-- log format's reader gives (08_completions). A line holds a request body and a response body under one pair of
-- keys: $request_key/$response_key (--pair-keys) or else request/response, request_body/response_body (Helicone),
-- reqPayload/respPayload (OpenPipe); or it is a Batch API output line {id, custom_id, response: {status_code,
-- body}, error}, whose request is the `body` of the --batch-input line with the same custom_id (batch_lines).
-- The response is a Chat Completion (`choices[0].message`: tool_calls, legacy function_call, content), its stream
-- (a list of chat.completion.chunk, assembled first in openai_streams, a temp table of this model: content pieces
-- concatenated, tool_calls deltas grouped by `index`, the first `id`/`name` kept and the `arguments` pieces
-- concatenated), or a Responses API response (`output[]` items of type function_call; the user text from the
-- request's `input`, a string or the last user item).
-- Each JSON text is parsed once for all the fields read from it (json_extract with a list of paths), and the long
-- texts flow through one pipeline without being materialized: the lines stay in gateway_lines only.
-- `line_reason` is the line's quarantine reason when it is not a request (bad_record is `NOT is_object`).
-- Reads: gateway_lines, batch_lines, the macros of 07_*. Params: $request_key, $response_key (JSON paths or NULL),
-- $outcome_path (a JSON path or NULL). Writes: openai_completions.
CREATE OR REPLACE TEMP TABLE openai_streams AS
WITH stream_lines AS (  -- a cheap text test first: only lines that mention a chunk are parsed here
    SELECT file_order, line_no, list_filter(json_extract(line, [
               coalesce(CAST($response_key AS VARCHAR), '$.response'), '$.response', '$.response_body',
               '$.respPayload']), lambda r: json_type(r) = 'ARRAY')[1] AS resp
    FROM (SELECT file_order, source_line AS line_no, line FROM gateway_lines
          WHERE log_format = 'openai' AND contains(line, 'chat.completion.chunk') AND json_valid(line)
            AND json_type(line) = 'OBJECT')
),
chunks AS (
    SELECT file_order, line_no, unnest(json_extract(resp, '$[*]')) AS chunk,
           unnest(range(CAST(json_array_length(resp) AS BIGINT))) AS chunk_no
    FROM stream_lines
    WHERE resp IS NOT NULL
),
delta_calls AS (
    SELECT file_order, line_no, chunk_no, unnest(json_extract(chunk, '$.choices[0].delta.tool_calls[*]')) AS piece
    FROM chunks
),
assembled_calls AS (
    SELECT file_order, line_no,
           list(struct_pack(type := 'function', function := struct_pack(name := name, arguments := arguments))
                ORDER BY call_index) AS tool_calls
    FROM (
        SELECT file_order, line_no, TRY_CAST(piece ->> 'index' AS BIGINT) AS call_index,
               arg_min(piece -> 'function' ->> 'name', chunk_no)
                   FILTER (WHERE (piece -> 'function' ->> 'name') IS NOT NULL) AS name,
               coalesce(string_agg(piece -> 'function' ->> 'arguments', '' ORDER BY chunk_no), '') AS arguments
        FROM delta_calls
        GROUP BY ALL
    )
    GROUP BY ALL
)
SELECT h.file_order, h.line_no,
       CAST(json_object('id', h.id, 'created', h.created, 'model', h.model, 'choices', json_array(json_object(
           'message', json_object('role', 'assistant', 'content', h.content,
                                  'tool_calls', to_json(c.tool_calls))))) AS VARCHAR) AS resp
FROM (
    SELECT file_order, line_no,
           arg_min(chunk ->> 'id', chunk_no) FILTER (WHERE (chunk ->> 'id') IS NOT NULL) AS id,
           arg_min(chunk -> 'created', chunk_no) FILTER (WHERE (chunk -> 'created') IS NOT NULL) AS created,
           arg_min(chunk ->> 'model', chunk_no) FILTER (WHERE (chunk ->> 'model') IS NOT NULL) AS model,
           string_agg(chunk -> 'choices' -> 0 -> 'delta' ->> 'content', '' ORDER BY chunk_no) AS content
    FROM chunks
    GROUP BY ALL
) h
LEFT JOIN assembled_calls c USING (file_order, line_no);
CREATE OR REPLACE TABLE openai_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no, line
    FROM gateway_lines
    WHERE log_format = 'openai'
),
fields AS (  -- one parse of each line
    SELECT file_order, source_file, line_no,
           try(json_extract(line, [
               coalesce(CAST($request_key AS VARCHAR), '$.request'),
               coalesce(CAST($response_key AS VARCHAR), '$.response'),
               '$.request_body', '$.response_body', '$.reqPayload', '$.respPayload',
               '$.custom_id', '$.response.body', '$.response.status_code', '$.error', '$.id',
               coalesce(CAST($outcome_path AS VARCHAR), '$.__no_outcome_field__')])) AS f,
           left(ltrim(left(line, 64)), 1) = '{' AS starts_as_object
    FROM lines
),
objects AS (  -- a line is a record when it is valid JSON (json_extract did not fail) and an object
    SELECT * EXCLUDE (starts_as_object), f IS NOT NULL AND starts_as_object AS is_object FROM fields
),
pairs AS (
    SELECT file_order, source_file, line_no, is_object,
           coalesce(json_type(f[7]) = 'VARCHAR' AND f[8] IS NOT NULL, false) AS is_batch,
           f[7] ->> '$' AS custom_id,
           CASE WHEN CAST($request_key AS VARCHAR) IS NOT NULL THEN f[1] ELSE coalesce(f[1], f[3], f[5]) END
               AS pair_request,
           CASE WHEN CAST($response_key AS VARCHAR) IS NOT NULL THEN f[2] ELSE coalesce(f[2], f[4], f[6]) END
               AS pair_response,
           f[8] AS batch_body,
           coalesce(json_type(f[10]), 'NULL') <> 'NULL' OR TRY_CAST(f[9] ->> '$' AS INTEGER) >= 400 AS batch_error,
           CASE WHEN json_type(f[11]) = 'VARCHAR' THEN f[11] ->> '$' END AS record_id,
           CAST(f[12] AS VARCHAR) AS inline_outcome
    FROM objects
),
batch_bodies AS (  -- the --batch-input file: each custom_id's request body
    SELECT b[1] ->> '$' AS custom_id, any_value(b[2]) AS body
    FROM (SELECT json_extract(line, ['$.custom_id', '$.body']) AS b FROM batch_lines WHERE json_valid(line))
    WHERE json_type(b[1]) = 'VARCHAR'
    GROUP BY ALL
),
bodies AS (
    SELECT p.file_order, p.source_file, p.line_no, p.is_object, p.record_id, p.inline_outcome,
           CASE WHEN p.is_batch THEN b.body ELSE p.pair_request END AS req,
           coalesce(s.resp, CASE WHEN p.is_batch THEN p.batch_body ELSE p.pair_response END) AS resp,
           p.is_batch AND p.batch_error AS batch_failed
    FROM pairs p
    LEFT JOIN batch_bodies b ON p.is_batch AND b.custom_id = p.custom_id
    LEFT JOIN openai_streams s ON s.file_order = p.file_order AND s.line_no = p.line_no
),
parts AS (  -- one parse of each request and each response
    SELECT file_order, source_file, line_no, is_object, record_id, inline_outcome, batch_failed,
           req IS NULL AS no_request, resp IS NULL AS no_response,
           json_extract(req, ['$.messages', '$.input', '$.tools', '$.functions', '$.model']) AS q,
           resp,
           CASE WHEN left(resp, 1) = '{' THEN json_extract(resp, [  -- an object: resp is JSON DuckDB wrote
               '$.id', '$.created', '$.created_at', '$.model', '$.choices[0].message', '$.error', '$.output',
               '$.status'])
           END AS r
    FROM bodies
),
read_out AS (
    SELECT file_order, source_file, line_no, is_object, record_id, inline_outcome, batch_failed, no_request,
           no_response, resp, q, r, is_responses_api, created, conversation_json, message,
           conversation(conversation_json) AS conv, assistant_message(message) AS m
    FROM (
        SELECT *,
               coalesce(json_type(r[7]) = 'ARRAY', false) AS is_responses_api,
               CASE WHEN coalesce(json_type(r[7]) = 'ARRAY', false) THEN r[3] ELSE r[2] END AS created,
               CASE WHEN coalesce(json_type(r[7]) = 'ARRAY', false) THEN q[2] ELSE q[1] END AS conversation_json,
               r[5] AS message  -- choices[0].message: NULL when `choices` is not a list
        FROM parts
    )
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN no_request AND no_response THEN 'missing_field'
        WHEN batch_failed OR coalesce(json_type(r[6]), 'NULL') <> 'NULL'
          OR (is_responses_api AND (r[8] ->> '$') = 'failed')
          OR (NOT is_responses_api AND CASE WHEN message IS NOT NULL THEN false  -- choices not empty
                  ELSE coalesce(json_array_length(resp, '$.choices'), 0) = 0 END) THEN 'teacher_error'
        WHEN no_request OR r[1] IS NULL OR created IS NULL OR conversation_json IS NULL THEN 'missing_field'
        WHEN json_type(r[1]) <> 'VARCHAR' OR json_type(created) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
          OR (NOT is_responses_api AND (conv IS NULL OR NOT chat_calls_ok(message, m)))
          OR (is_responses_api AND json_type(conversation_json) NOT IN ('VARCHAR', 'ARRAY')) THEN 'bad_type'
        WHEN coalesce(list_last(conv).role, '') IN ('tool', 'function')
          OR coalesce(list_last(conv).type, '') = 'function_call_output' THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(coalesce(record_id, r[1] ->> '$') AS VARCHAR) AS event_id,  -- the record's own id, else the completion's
    CAST(r[1] ->> '$' AS VARCHAR) AS request_id,  -- the completion's id
    to_timestamp(TRY_CAST(created ->> '$' AS DOUBLE)) AS ts,
    CAST(coalesce(r[4] ->> '$', q[5] ->> '$') AS VARCHAR) AS model,
    CAST(CASE WHEN json_type(conversation_json) = 'VARCHAR' THEN conversation_json ->> '$'  -- a Responses input
              ELSE last_user_text(conv) END AS VARCHAR) AS intent,
    offered_tools(q[3], q[4]) AS offered,
    CASE WHEN is_responses_api THEN list_transform(
             list_filter(from_json(r[7], '[{"type": "VARCHAR", "name": "VARCHAR", "arguments": "JSON"}]'),
                         lambda item: item.type = 'function_call'),
             lambda item: struct_pack(name := item.name, arguments := arguments_text(item.arguments)))
         ELSE chat_calls(m) END AS calls,
    CAST(CASE WHEN is_responses_api THEN array_to_string(list_transform(
             list_filter(from_json(r[7], '[{"type": "VARCHAR", "content": "JSON"}]'),
                         lambda item: item.type = 'message'),
             lambda item: content_text(item.content)), ' ')
         ELSE content_text(m.content) END AS VARCHAR) AS content,
    inline_outcome
FROM read_out
