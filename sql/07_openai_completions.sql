-- openai_completions: the lines of the files read as `openai` (gateway_lines), one row per line, in the shape every
-- log format's reader gives (08_completions). A line holds a request body and a response body under one pair of
-- keys: $request_key/$response_key (--pair-keys) or else request/response, request_body/response_body (Helicone),
-- reqPayload/respPayload (OpenPipe); or it is a Batch API output line {id, custom_id, response: {status_code,
-- body}, error}, whose request is the `body` of the --batch-input line with the same custom_id (batch_lines).
-- The response is a Chat Completion (`choices[0].message`: tool_calls, legacy function_call, content), its stream
-- (a list of chat.completion.chunk, assembled: content pieces concatenated, tool_calls deltas grouped by `index`,
-- the first `id`/`name` kept and the `arguments` pieces concatenated), or a Responses API response (`output[]`
-- items of type function_call; the user text from the request's `input`, a string or the last user item).
-- `line_reason` is the line's quarantine reason when it is not a request (bad_record is `NOT is_object`).
-- Reads: gateway_lines, batch_lines, the macros of 07_*. Params: $request_key, $response_key (text or NULL),
-- $outcome_path (a JSON path or NULL). Writes: openai_completions.
CREATE OR REPLACE TABLE openai_completions AS
WITH lines AS (
    SELECT file_order, source_file, source_line AS line_no,
           CASE WHEN json_valid(line) THEN CASE WHEN json_type(line) = 'OBJECT' THEN CAST(line AS JSON) END END AS obj
    FROM gateway_lines
    WHERE log_format = 'openai'
),
batch_bodies AS (  -- the --batch-input file: each custom_id's request body
    SELECT (body_line ->> 'custom_id') AS custom_id, any_value(body_line -> 'body') AS body
    FROM (SELECT CAST(line AS JSON) AS body_line FROM batch_lines WHERE json_valid(line))
    WHERE json_type(body_line, '$.custom_id') = 'VARCHAR'
    GROUP BY ALL
),
pairs AS (
    SELECT l.*,
           coalesce(json_type(obj, '$.custom_id') = 'VARCHAR' AND json_type(obj, '$.response') = 'OBJECT', false)
               AS is_batch,
           CASE WHEN CAST($request_key AS VARCHAR) IS NOT NULL THEN (obj -> CAST($request_key AS VARCHAR))
                ELSE coalesce(obj -> 'request', (obj -> 'request_body'), (obj -> 'reqPayload')) END AS pair_request,
           CASE WHEN CAST($response_key AS VARCHAR) IS NOT NULL THEN (obj -> CAST($response_key AS VARCHAR))
                ELSE coalesce(obj -> 'response', (obj -> 'response_body'), (obj -> 'respPayload')) END AS pair_response
    FROM lines l
),
bodies AS (
    SELECT p.file_order, p.source_file, p.line_no, p.obj, p.is_batch,
           CASE WHEN p.is_batch THEN b.body ELSE p.pair_request END AS req,
           CASE WHEN p.is_batch THEN (p.obj -> 'response' -> 'body') ELSE p.pair_response END AS resp,
           p.is_batch AND (coalesce(json_type(p.obj, '$.error'), 'NULL') <> 'NULL'
                           OR TRY_CAST(p.obj -> 'response' ->> 'status_code' AS INTEGER) >= 400) AS batch_failed
    FROM pairs p
    LEFT JOIN batch_bodies b ON p.is_batch AND b.custom_id = (p.obj ->> 'custom_id')
),
chunks AS (  -- a streamed response: one row per chunk, then per tool_calls delta
    SELECT file_order, line_no, unnest(json_extract(resp, '$[*]')) AS chunk,
           unnest(range(CAST(json_array_length(resp) AS BIGINT))) AS chunk_no
    FROM bodies
    WHERE json_type(resp) = 'ARRAY'
),
chunk_heads AS (
    SELECT file_order, line_no,
           arg_min(chunk ->> 'id', chunk_no) FILTER (WHERE (chunk ->> 'id') IS NOT NULL) AS id,
           arg_min(chunk -> 'created', chunk_no) FILTER (WHERE (chunk -> 'created') IS NOT NULL) AS created,
           arg_min(chunk ->> 'model', chunk_no) FILTER (WHERE (chunk ->> 'model') IS NOT NULL) AS model,
           string_agg(chunk -> 'choices' -> 0 -> 'delta' ->> 'content', '' ORDER BY chunk_no) AS content
    FROM chunks
    GROUP BY ALL
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
),
streams AS (  -- each stream as the Chat Completion it amounts to
    SELECT h.file_order, h.line_no,
           CAST(json_object('id', h.id, 'created', h.created, 'model', h.model, 'choices', json_array(json_object(
               'message', json_object('role', 'assistant', 'content', h.content,
                                      'tool_calls', to_json(c.tool_calls))))) AS JSON) AS resp
    FROM chunk_heads h
    LEFT JOIN assembled_calls c USING (file_order, line_no)
),
responses AS (
    SELECT b.* EXCLUDE (resp), coalesce(s.resp, b.resp) AS resp,
           coalesce(json_type(coalesce(s.resp, b.resp), '$.output') = 'ARRAY', false) AS is_responses_api
    FROM bodies b
    LEFT JOIN streams s USING (file_order, line_no)
),
read_out AS (
    SELECT
        file_order, source_file, line_no, obj IS NOT NULL AS is_object, obj, req, resp, batch_failed,
        is_responses_api,
        CASE WHEN is_responses_api THEN 'created_at' ELSE 'created' END AS ts_key,
        CASE WHEN is_responses_api THEN NULL ELSE (resp -> 'choices' -> 0 -> 'message') END AS message,
        CASE WHEN is_responses_api THEN (req -> 'input') ELSE (req -> 'messages') END AS conversation
    FROM responses
)
SELECT
    file_order, source_file, line_no, is_object,
    CAST(CASE
        WHEN NOT is_object THEN NULL
        WHEN req IS NULL AND resp IS NULL THEN 'missing_field'
        WHEN batch_failed OR coalesce(json_type(resp, '$.error'), 'NULL') <> 'NULL'
          OR (is_responses_api AND (resp ->> 'status') = 'failed')
          OR (NOT is_responses_api AND coalesce(json_array_length(resp, '$.choices'), 0) = 0) THEN 'teacher_error'
        WHEN req IS NULL OR (resp ->> 'id') IS NULL OR json_type(resp, '$.' || ts_key) IS NULL
          OR conversation IS NULL THEN 'missing_field'
        WHEN json_type(resp, '$.id') <> 'VARCHAR'
          OR json_type(resp, '$.' || ts_key) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
          OR (NOT is_responses_api AND (json_type(conversation) <> 'ARRAY' OR NOT chat_calls_ok(message)))
          OR (is_responses_api AND json_type(conversation) NOT IN ('VARCHAR', 'ARRAY')) THEN 'bad_type'
        WHEN json_type(conversation) = 'ARRAY'
          AND coalesce(list_last(json_extract(conversation, '$[*]')) ->> 'role', '') IN ('tool', 'function')
          THEN 'follow_up'
        WHEN is_responses_api AND json_type(conversation) = 'ARRAY'
          AND (list_last(json_extract(conversation, '$[*]')) ->> 'type') = 'function_call_output' THEN 'follow_up'
    END AS VARCHAR) AS line_reason,
    CAST(coalesce(CASE WHEN json_type(obj, '$.id') = 'VARCHAR' THEN (obj ->> 'id') END, (resp ->> 'id')) AS VARCHAR)
        AS event_id,  -- the record's own id (a Batch line's), else the completion's
    CAST(resp ->> 'id' AS VARCHAR) AS request_id,  -- the completion's id
    to_timestamp(TRY_CAST(json_extract(resp, '$.' || ts_key) ->> '$' AS DOUBLE)) AS ts,
    CAST(coalesce(resp ->> 'model', (req ->> 'model')) AS VARCHAR) AS model,
    CAST(CASE
        WHEN NOT is_responses_api THEN last_user_text(conversation)
        WHEN json_type(conversation) = 'VARCHAR' THEN (conversation ->> '$')
        ELSE last_user_text(to_json(list_filter(json_extract(conversation, '$[*]'),
                                                lambda item: (item ->> 'role') IS NOT NULL)))
    END AS VARCHAR) AS intent,
    offered_tools(req -> 'tools', (req -> 'functions')) AS offered,
    CASE WHEN is_responses_api THEN list_transform(
             list_filter(json_extract(resp, '$.output[*]'), lambda item: (item ->> 'type') = 'function_call'),
             lambda item: struct_pack(name := (item ->> 'name'), arguments := arguments_text(item -> 'arguments')))
         ELSE chat_calls(message) END AS calls,
    CAST(CASE WHEN is_responses_api THEN array_to_string(list_transform(
             list_filter(json_extract(resp, '$.output[*]'), lambda item: (item ->> 'type') = 'message'),
             lambda item: content_text(item -> 'content')), ' ')
         ELSE content_text(message -> 'content') END AS VARCHAR) AS content,
    CAST(json_extract(obj, CAST($outcome_path AS VARCHAR)) AS VARCHAR) AS inline_outcome
FROM read_out
