-- arguments_text: a tool call's `arguments` (JSON) as the text the output parser reads: a JSON string is its
-- text (what the model wrote, parsed later exactly as a JSON tail); an object (some loggers decode it) is its
-- JSON text, taken as it is; absent, ''. (20_parsed_outputs then gives no_json, invalid_json or the output.)
-- (A string, the common case, is parsed by one json_type and the ->>: the first WHEN is it.)
-- Writes: arguments_text (macro).
CREATE OR REPLACE MACRO arguments_text(arguments) AS CASE json_type(arguments)
    WHEN 'VARCHAR' THEN (arguments ->> '$')
    WHEN 'NULL' THEN ''
    ELSE coalesce(CAST(arguments AS VARCHAR), '')
END;
