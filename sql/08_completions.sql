-- completions: every line of the gateway log files read now (openai, litellm, langfuse), one row per line in the
-- one shape each format's reader (07_<format>_completions) gives: where it is (file_order, source_file, line_no),
-- whether it is a JSON object, its quarantine reason when it is not a request (line_reason), the event id (the
-- record's own id), the request id, ts, the model, the intent (the last user message's text), the tools offered
-- (names), the tool calls (name, arguments text) in the order given, the assistant's text beside them (content,
-- the chain of thought) and the value at --outcome-field (inline_outcome, JSON text).
-- Reads: openai_completions, litellm_completions, langfuse_completions. Writes: completions (view).
CREATE OR REPLACE VIEW completions AS
SELECT * FROM openai_completions
UNION ALL BY NAME SELECT * FROM litellm_completions
UNION ALL BY NAME SELECT * FROM langfuse_completions
