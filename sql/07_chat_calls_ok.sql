-- chat_calls_ok: whether an assistant message's calls are readable: `tool_calls` absent, null or a list of
-- objects each naming its tool, and `function_call` absent, null or an object; else the record is bad_type.
-- Writes: chat_calls_ok (macro).
CREATE OR REPLACE MACRO chat_calls_ok(message) AS
    coalesce(json_type(message, '$.tool_calls'), 'NULL') IN ('NULL', 'ARRAY')
    AND coalesce(json_type(message, '$.function_call'), 'NULL') IN ('NULL', 'OBJECT')
    AND coalesce(list_bool_and(list_transform(json_extract(message, '$.tool_calls[*]'),
        lambda c: json_type(c) = 'OBJECT'
                  AND coalesce(c -> 'function' ->> 'name', (c -> 'custom' ->> 'name')) IS NOT NULL)), true);
