-- offered_tools: the names of the tools a request offered, as VARCHAR[]: Chat Completions `tools`
-- ([{type, function: {name}}]), the Responses API's flat `tools` ([{type, name}]) or legacy `functions`
-- ([{name}]); an empty list when none. (JSON path wildcards: each list is parsed once per path.)
-- Writes: offered_tools (macro).
CREATE OR REPLACE MACRO offered_tools(tools, functions) AS list_filter(list_concat(
    coalesce(json_extract_string(tools, '$[*].function.name'), []),
    coalesce(json_extract_string(tools, '$[*].name'), []),
    coalesce(json_extract_string(functions, '$[*].name'), [])
), lambda name: name IS NOT NULL);
