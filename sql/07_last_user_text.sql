-- last_user_text: the intent of a request: the text (content_text) of the LAST message whose role is 'user' in a
-- conversation (07_conversation); '' when it holds no user message, NULL when there is no conversation.
-- Reads: content_text (07_content_text). Writes: last_user_text (macro).
CREATE OR REPLACE MACRO last_user_text(messages) AS CASE WHEN messages IS NOT NULL THEN
    coalesce(content_text(list_last(list_filter(messages, lambda m: m.role = 'user')).content), '')
END;
