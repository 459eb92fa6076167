-- chat_calls_ok: whether an assistant message's calls are readable: `tool_calls` absent, null or a list of
-- objects each naming its tool, and `function_call` absent, null or an object; else the record is bad_type.
-- `message` is the JSON, `m` its assistant_message STRUCT. from_json gives `m.tool_calls` only for a list and
-- `m.function_call` NULL only when it is absent or null, so the common message (a list of calls and no
-- function_call) is judged from `m` alone; any other message by the JSON types of one more parse of `message`.
-- Writes: chat_calls_ok (macro).
CREATE OR REPLACE MACRO chat_calls_ok(message, m) AS
    CASE WHEN m.tool_calls IS NOT NULL AND m.function_call IS NULL THEN true  -- a list and no function_call
         ELSE list_bool_and(list_transform(
             list_zip(json_type(message, ['$.tool_calls', '$.function_call']), ['ARRAY', 'OBJECT']),
             lambda found: coalesce(struct_extract(found, 1), 'NULL') IN ('NULL', struct_extract(found, 2))))
    END
    AND coalesce(list_bool_and(list_transform(m.tool_calls,
        lambda c: coalesce(c.function.name, c.custom.name) IS NOT NULL)), true);
