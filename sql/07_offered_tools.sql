-- offered_tools: the names of the tools a request offered, as VARCHAR[]: Chat Completions `tools`
-- ([{type, function: {name}}]), the Responses API's flat `tools` ([{type, name}]) or legacy `functions`
-- ([{name}]); an empty list when none.
-- Writes: offered_tools (macro).
CREATE OR REPLACE MACRO offered_tools(tools, functions) AS list_filter(list_concat(
    CASE WHEN json_type(tools) = 'ARRAY' THEN list_transform(json_extract(tools, '$[*]'),
        lambda t: coalesce(t -> 'function' ->> 'name', (t ->> 'name'))) ELSE [] END,
    CASE WHEN json_type(functions) = 'ARRAY' THEN list_transform(json_extract(functions, '$[*]'),
        lambda f: (f ->> 'name')) ELSE [] END
), lambda name: name IS NOT NULL);
