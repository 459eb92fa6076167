-- conversation: an OpenAI-shaped messages list (or a Responses API `input` list) read once into a list of
-- STRUCT(role, type, content JSON); NULL when it is not a list.
-- Writes: conversation (macro).
CREATE OR REPLACE MACRO conversation(messages) AS CASE WHEN json_type(messages) = 'ARRAY' THEN
    from_json(messages, '[{"role": "VARCHAR", "type": "VARCHAR", "content": "JSON"}]')
END;
