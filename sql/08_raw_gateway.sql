-- raw_gateway: the completions mapped to raw records, the same way for every log format. One completion is one
-- user request (request_id); its rows:
-- - a line that is not a request is ONE row with its reason: bad_record (not a JSON object), the reader's
--   not_a_generation, teacher_error, missing_field, bad_type or follow_up, then redacted (the intent is LiteLLM's
--   'redacted-by-litellm') and other_model (the model matches none of $teacher_models, when any is given);
-- - a request has one row per tool call (each call of a tool called twice too: repeated_tool when it is a pack
--   tool; a tool outside the pack becomes unknown_tool in 25_checked_calls), and one per pack tool it offered and
--   did not call (an unused tool: the pack's neutral output, a valid call). A pack tool not offered has no row.
-- A call's response is `<content> JSON: <arguments>` (`JSON: <arguments>` with no content): the assistant's
-- text is its chain of thought and the arguments are parsed exactly as a JSON tail (an unused tool's response is
-- 'JSON: <neutral>').
-- Keys: source_line = line_no · 65536 + the row's number in its line (0 for a line row; calls 1…n in their
-- order, then the unused tools in pack order), unique in the file; 37_file_quarantine shows line_no. The event
-- id is '<record id>#<tool>#<k>' (k: the call's occurrence of that tool in the completion, 0 for an unused tool):
-- the rows of one completion never repeat each other, and a completion logged twice repeats all of them
-- (duplicate_event). `exported`: the request's outcome (any --outcomes record true, or the --outcome-field value
-- true); none means not exported. The original line stays in gateway_lines (its offered tools cut to their names;
-- 37_file_quarantine restores it).
-- Reads: completions, outcomes, pack_tools. Params: $teacher_models (VARCHAR[] of GLOBs). Writes: raw_gateway.
CREATE OR REPLACE TABLE raw_gateway AS
WITH judged AS (
    SELECT c.*,
        CASE
            WHEN NOT c.is_object THEN NULL
            WHEN c.line_reason IS NOT NULL THEN c.line_reason
            WHEN c.intent = 'redacted-by-litellm' THEN 'redacted'
            WHEN len(CAST($teacher_models AS VARCHAR[])) > 0
             AND NOT coalesce(list_bool_or(list_transform(CAST($teacher_models AS VARCHAR[]),
                                                          lambda g: c.model GLOB g)), false) THEN 'other_model'
        END AS reason,
        coalesce(o.exported, false) OR coalesce(c.inline_outcome IN ('true', '1', '"true"'), false) AS exported,
        o.request_id IS NOT NULL OR coalesce(c.inline_outcome, 'null') <> 'null' AS outcome_matched
    FROM completions c
    LEFT JOIN outcomes o ON o.request_id = c.request_id
),
requests AS (SELECT * FROM judged WHERE is_object AND reason IS NULL),
line_rows AS (
    SELECT file_order, source_file, line_no, 0 AS row_no, is_object, reason AS line_reason,
           CAST(NULL AS VARCHAR) AS call_reason, event_id, request_id, ts, intent,
           CAST(NULL AS VARCHAR) AS tool, CAST(NULL AS VARCHAR) AS response, exported, false AS outcome_matched
    FROM judged
    WHERE NOT is_object OR reason IS NOT NULL
),
called AS (  -- each call with its occurrence of its tool in the completion and the times that tool is called
             -- (list functions per completion: a window over every call carried the wide rows through a sort)
    SELECT file_order, source_file, line_no, event_id, request_id, ts, intent, content, exported, outcome_matched,
           unnest(calls) AS call, unnest(range(1, len(calls) + 1)) AS call_no,
           unnest(list_transform(names, lambda n, i: len(list_filter(names[1:i], lambda m: m IS NOT DISTINCT FROM n))))
               AS occurrence,
           unnest(list_transform(names, lambda n: len(list_filter(names, lambda m: m IS NOT DISTINCT FROM n))))
               AS times
    FROM (SELECT *, list_transform(calls, lambda c: c.name) AS names FROM requests)
),
call_rows AS (SELECT *, call.name AS tool FROM called),
unused_rows AS (  -- the pack tools offered and not called, in pack order, numbered after the calls
    SELECT r.file_order, r.source_file, r.line_no, r.event_id, r.request_id, r.ts, r.intent, r.exported,
           r.outcome_matched, r.u.tool AS tool, t.neutral, len(r.calls) + r.u.position AS row_no
    FROM (
        SELECT requests.*, unnest(list_transform(
                   list_filter(pack_order.tools, lambda tool: list_contains(offered, tool)
                               AND NOT list_contains(list_transform(calls, lambda c: c.name), tool)),
                   lambda tool, position: struct_pack(tool := tool, position := position))) AS u
        FROM requests, (SELECT list(tool ORDER BY tool_no) AS tools FROM pack_tools) pack_order
    ) r
    JOIN pack_tools t ON t.tool = r.u.tool
),
rows AS (
    SELECT file_order, source_file, line_no, row_no, is_object, line_reason, call_reason, event_id, request_id,
           ts, intent, tool, response, exported, outcome_matched
    FROM line_rows
    UNION ALL
    SELECT file_order, source_file, line_no, call_no, true, NULL,
           CASE WHEN times > 1 AND tool IN (SELECT tool FROM pack_tools) THEN 'repeated_tool' END,
           event_id || '#' || coalesce(tool, '') || '#' || occurrence, request_id, ts, intent, tool,
           CASE WHEN coalesce(content, '') = '' THEN '' ELSE content || ' ' END || 'JSON: ' || call.arguments,
           exported, outcome_matched
    FROM call_rows
    UNION ALL
    SELECT file_order, source_file, line_no, row_no, true, NULL, NULL,
           event_id || '#' || tool || '#0', request_id, ts, intent, tool, 'JSON: ' || neutral, exported,
           outcome_matched
    FROM unused_rows
)
SELECT
    source_file,
    CAST(line_no * 65536 + row_no AS BIGINT) AS source_line,  -- the row's key in its file (see above)
    CAST(line_no AS BIGINT) AS line_no,                        -- the line it comes from (1-based)
    CAST(file_order AS INTEGER) AS file_order,
    is_object, CAST(line_reason AS VARCHAR) AS line_reason, CAST(call_reason AS VARCHAR) AS call_reason,
    CASE WHEN line_reason IS NULL AND is_object THEN 'VARCHAR' END AS event_id_type, event_id,
    CASE WHEN line_reason IS NULL AND is_object THEN 'VARCHAR' END AS request_id_type, request_id,
    CASE WHEN line_reason IS NULL AND is_object THEN 'TIMESTAMP' END AS ts_type, ts,
    CASE WHEN line_reason IS NULL AND is_object THEN 'VARCHAR' END AS intent_type,
    CASE WHEN line_reason IS NULL AND is_object THEN coalesce(intent, '') ELSE intent END AS intent,
    CASE WHEN line_reason IS NULL AND is_object THEN 'VARCHAR' END AS tool_type,
    CASE WHEN line_reason IS NULL AND is_object THEN coalesce(tool, '') END AS tool,
    CASE WHEN line_reason IS NULL AND is_object THEN 'VARCHAR' END AS response_type, response,
    CASE WHEN line_reason IS NULL AND is_object THEN 'BOOLEAN' END AS exported_type,
    CAST(exported AS VARCHAR) AS exported,
    outcome_matched,
    CAST(NULL AS VARCHAR) AS record  -- the original line is in gateway_lines (37_file_quarantine)
FROM rows
