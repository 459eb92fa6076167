-- arguments_text: a tool call's `arguments` (JSON) as the text the output parser reads: a JSON string is its
-- text (what the model wrote, parsed later exactly as a JSON tail); an object (some loggers decode it) is its
-- JSON text, taken as it is; absent, ''. (20_parsed_outputs then gives no_json, invalid_json or the output.)
-- Writes: arguments_text (macro).
CREATE OR REPLACE MACRO arguments_text(arguments) AS CASE
    WHEN arguments IS NULL OR json_type(arguments) = 'NULL' THEN ''
    WHEN json_type(arguments) = 'VARCHAR' THEN (arguments ->> '$')
    ELSE CAST(arguments AS VARCHAR)
END;
