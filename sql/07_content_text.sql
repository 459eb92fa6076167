-- content_text: the text of one OpenAI-shaped message `content` (JSON): a string as it is; a list of parts, the
-- text of its text parts (`text`, and the Responses API's `input_text` / `output_text`) joined by a space; NULL
-- for anything else. Every log format's reader reads user text and assistant text through it.
-- Writes: content_text (macro).
CREATE OR REPLACE MACRO content_text(content) AS CASE json_type(content)
    WHEN 'VARCHAR' THEN (content ->> '$')
    WHEN 'ARRAY' THEN array_to_string(
        list_transform(
            list_filter(json_extract(content, '$[*]'),
                        lambda part: (part ->> 'type') IN ('text', 'input_text', 'output_text')),
            lambda part: (part ->> 'text')),
        ' ')
END;
