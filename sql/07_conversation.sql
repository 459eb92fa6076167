-- conversation: an OpenAI-shaped messages list (or a Responses API `input` list) read once into a list of
-- STRUCT(role, type, content JSON); NULL when it is not a list.
-- Writes: conversation (macro).
CREATE OR REPLACE MACRO conversation(messages) AS  -- from_json gives NULL for JSON that is not a list
    from_json(messages, '[{"role": "VARCHAR", "type": "VARCHAR", "content": "JSON"}]');
