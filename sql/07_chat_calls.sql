-- chat_calls: the tool calls of an assistant message read by assistant_message (a STRUCT) as a list of
-- STRUCT(name, arguments): `tool_calls[]` of type function (`function.name`, `function.arguments`) or custom
-- (`custom.name`, `custom.input`), else the legacy `function_call {name, arguments}`; an empty list when it has
-- neither. A `tool_calls` that is present but not a list is the caller's bad_type (chat_calls_ok).
-- Reads: arguments_text (07_arguments_text). Writes: chat_calls (macro).
CREATE OR REPLACE MACRO chat_calls(m) AS CASE
    WHEN m.tool_calls IS NOT NULL THEN list_transform(m.tool_calls, lambda c: struct_pack(
        name := coalesce(c.function.name, c.custom.name),
        arguments := arguments_text(coalesce(c.function.arguments, c.custom.input))))
    WHEN m.function_call IS NOT NULL THEN [struct_pack(
        name := m.function_call.name, arguments := arguments_text(m.function_call.arguments))]
    ELSE []
END;
