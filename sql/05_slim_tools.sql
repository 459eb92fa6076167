-- slim_tools: a request's offered `tools` list (JSON text) cut down to what the readers read of it, the names:
-- `[{"function":{"name":N}},…,{"name":M},…]`, each item's `function.name` then each item's flat `name` (the
-- Responses API's), in list order, as DuckDB reads them (a name that is not a string stays the JSON it is). NULL
-- when the text is not a JSON array, or when the cut list would not give offered_tools (07_offered_tools) exactly
-- the names of the whole list. pipelines/slim_lines.py calls it once per distinct list text while the gateway lines
-- load, so that the readers never parse the tools' definitions a log repeats on every line.
-- Nested CASE: DuckDB does not short-circuit AND, and json_extract fails on text that is not JSON.
-- Writes: slim_tools (macro).
CREATE OR REPLACE MACRO slim_tools(tools) AS (
    SELECT CASE WHEN json_valid(slim) THEN CASE
        WHEN json_extract_string(slim, '$[*].function.name') IS NOT DISTINCT FROM function_names_text
         AND json_extract_string(slim, '$[*].name') IS NOT DISTINCT FROM flat_names_text THEN slim
    END END
    FROM (
        SELECT '[' || array_to_string(list_concat(
                   list_transform(function_names, lambda n: '{"function":{"name":' || CAST(n AS VARCHAR) || '}}'),
                   list_transform(flat_names, lambda n: '{"name":' || CAST(n AS VARCHAR) || '}')), ',') || ']'
                   AS slim,
               function_names_text, flat_names_text
        FROM (
            SELECT coalesce(json_extract(list_text, '$[*].function.name'), []) AS function_names,
                   coalesce(json_extract(list_text, '$[*].name'), []) AS flat_names,
                   json_extract_string(list_text, '$[*].function.name') AS function_names_text,
                   json_extract_string(list_text, '$[*].name') AS flat_names_text
            FROM (SELECT CASE WHEN json_valid(tools) THEN
                      CASE WHEN json_type(tools) = 'ARRAY' THEN CAST(tools AS VARCHAR) END END AS list_text)
            WHERE list_text IS NOT NULL
        )
    )
);
