-- chat_calls_ok: whether an assistant message's calls are readable: `tool_calls` absent, null or a list of
-- objects each naming its tool, and `function_call` absent, null or an object; else the record is bad_type.
-- `message` is the JSON, `m` its assistant_message STRUCT (the JSON types come from one parse of `message`).
-- Writes: chat_calls_ok (macro).
CREATE OR REPLACE MACRO chat_calls_ok(message, m) AS
    list_bool_and(list_transform(
        list_zip(json_type(message, ['$.tool_calls', '$.function_call']), ['ARRAY', 'OBJECT']),
        lambda found: coalesce(struct_extract(found, 1), 'NULL') IN ('NULL', struct_extract(found, 2))))
    AND coalesce(list_bool_and(list_transform(m.tool_calls,
        lambda c: coalesce(c.function.name, c.custom.name) IS NOT NULL)), true);
