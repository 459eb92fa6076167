-- assistant_message: an OpenAI-shaped assistant message (JSON) read once into a STRUCT: content (JSON),
-- tool_calls[] {type, function {name, arguments (JSON)}, custom {name, input (JSON)}} and the legacy
-- function_call {name, arguments (JSON)}. A field of another shape (a tool_calls that is not a list) is NULL here;
-- chat_calls_ok tells the two apart.
-- Writes: assistant_message (macro).
CREATE OR REPLACE MACRO assistant_message(message) AS from_json(message, '{
    "content": "JSON",
    "tool_calls": [{"type": "VARCHAR", "function": {"name": "VARCHAR", "arguments": "JSON"},
                    "custom": {"name": "VARCHAR", "input": "JSON"}}],
    "function_call": {"name": "VARCHAR", "arguments": "JSON"}
}');
