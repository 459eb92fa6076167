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
-- Each completion's rows are built as one list and unnested, so the completions are scanned once (the wide rows,
-- with their content, are not kept aside for a second and third scan).
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
pack_order AS (  -- the pack's tools in pack order, with their neutral outputs
    SELECT list(tool ORDER BY tool_no) AS tools, list(struct_pack(tool := tool, neutral := neutral) ORDER BY tool_no)
               AS neutrals
    FROM pack_tools
),
requests AS (  -- per completion what tells its rows apart, as one list (the completions are scanned once: no wide
               -- rows kept aside); the long texts are joined to each row after the unnest
    SELECT file_order, source_file, line_no, is_object, event_id, request_id, ts, intent, content, exported,
           is_request, is_request AND outcome_matched AS outcome_matched, reason,
           CASE WHEN NOT is_request THEN [struct_pack(row_no := 0, tool := CAST(NULL AS VARCHAR),
                                                      text := CAST(NULL AS VARCHAR), occurrence := 0,
                                                      is_call := false, repeated := false)]
                ELSE list_concat(
                    -- each call, with its occurrence of its tool in the completion and whether a pack tool is
                    -- called more than once
                    list_transform(calls, lambda c, i: struct_pack(
                        row_no := i, tool := c.name, text := c.arguments,
                        occurrence := len(list_filter(names[1:i], lambda m: m IS NOT DISTINCT FROM c.name)),
                        is_call := true,
                        repeated := len(list_filter(names, lambda m: m IS NOT DISTINCT FROM c.name)) > 1
                                    AND list_contains(pack_tools_list, c.name))),
                    -- the pack tools offered and not called, in pack order, numbered after the calls
                    list_transform(
                        list_filter(neutrals, lambda t: list_contains(offered, t.tool)
                                    AND NOT list_contains(names, t.tool)),
                        lambda t, k: struct_pack(
                            row_no := len(names) + k, tool := t.tool, text := t.neutral, occurrence := 0,
                            is_call := false, repeated := false)))
           END AS row_list
    FROM (
        SELECT j.*, is_object AND reason IS NULL AS is_request, list_transform(calls, lambda c: c.name) AS names,
               p.tools AS pack_tools_list, p.neutrals
        FROM judged j, pack_order p
    )
),
rows AS (
    SELECT file_order, source_file, line_no, r.row_no, is_object,
           CASE WHEN NOT is_request THEN reason END AS line_reason,
           CASE WHEN r.repeated THEN 'repeated_tool' END AS call_reason,
           CASE WHEN is_request THEN event_id || '#' || coalesce(r.tool, '') || '#' || r.occurrence
                ELSE event_id END AS event_id,
           request_id, ts, intent, r.tool,
           CASE WHEN NOT is_request THEN NULL
                WHEN r.is_call THEN CASE WHEN coalesce(content, '') = '' THEN '' ELSE content || ' ' END
                                    || 'JSON: ' || r.text
                ELSE 'JSON: ' || r.text END AS response,
           exported, outcome_matched
    FROM (SELECT *, unnest(row_list) AS r FROM requests)
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
