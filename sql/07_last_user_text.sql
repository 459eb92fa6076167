-- last_user_text: the intent of a request: the text (content_text) of the LAST message whose role is 'user' in an
-- OpenAI-shaped messages list (JSON); '' when the list holds no user message, NULL when it is not a list.
-- Reads: content_text (07_content_text). Writes: last_user_text (macro).
CREATE OR REPLACE MACRO last_user_text(messages) AS CASE WHEN json_type(messages) = 'ARRAY' THEN coalesce(
    content_text(list_last(list_filter(json_extract(messages, '$[*]'), lambda m: (m ->> 'role') = 'user')) -> 'content'),
    '')
END;
