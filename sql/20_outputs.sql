-- outputs: parse, validate and canonicalize every distinct (tool, text) of `output_texts`.
-- The object is the first balanced JSON object after the last 'JSON:' marker of the text (or, with no marker,
-- the first one in the text). It is validated against the tool's JSON Schema, whose keys and ranges arrive as the
-- tables `tool_keys` and `tool_params` (built from schemas/*.schema.json), and LUT names as `lut_names`.
-- Reads:  output_texts(tool, text), tool_keys(tool, key, kind), tool_params(tool, key, sub, minimum, maximum,
--         position), lut_names(name), and the schema's JSON paths as variables (JSON functions need constant
--         paths): slot_paths_<tool>, object_paths_selective_adjust, nested_keys_selective_adjust, and the
--         canonical layout canonical_prefixes_<tool> / canonical_suffixes_<tool> (adjust, selective_adjust)
-- Params: $alt_marker: another marker treated exactly like 'JSON:' (snapshot passes 'JSON:'; eval 'Parameters:')
-- Writes: parsed_outputs(tool, text, output_id, reason, canonical, used); reason is NULL, 'no_json', 'invalid_json' or
--         'schema_violation'; canonical is compact JSON in the schema's key order.
CREATE OR REPLACE TABLE parsed_outputs AS
WITH texts AS (  -- each distinct text gets a small integer id: the long strings are not hashed again
    SELECT tool, text, row_number() OVER () AS text_id
    FROM (SELECT DISTINCT tool, text FROM output_texts WHERE text IS NOT NULL)
),
after_marker AS (
    SELECT tool, text_id, body, trim(body) AS trimmed
    FROM (SELECT tool, text_id, list_last(string_split(replace(text, $alt_marker, 'JSON:'), 'JSON:')) AS body FROM texts)
),
strict_json AS (  -- JSON as the standard defines it: DuckDB's reader also takes trailing commas, NaN, Infinity
    SELECT tool, text_id, body,
           CASE WHEN starts_with(trimmed, '{') AND json_valid(trimmed)
                     AND NOT regexp_matches(trimmed, ',\s*[\]}]|[:\[,]\s*-?(NaN|Infinity)')
                THEN trimmed END AS whole_object  -- the common case: the text after the marker is the object
    FROM after_marker
),
from_open_brace AS (  -- everything else: find where the first balanced object ends
    SELECT tool, text_id, substr(body, strpos(body, '{')) AS from_open, string_split(substr(body, strpos(body, '{')), '}') AS parts
    FROM strict_json
    WHERE whole_object IS NULL AND strpos(body, '{') > 0
),
closing_braces AS (  -- one row per '}' (the first 64 suffice for any tool object): the prefix ending there
    SELECT tool, text_id, from_open, len(parts) AS n_parts,
           unnest(list_slice(parts, 1, 64)) AS piece, unnest(range(1, least(len(parts), 64) + 1)) AS piece_no
    FROM from_open_brace
),
prefixes AS (
    SELECT tool, text_id, piece_no,
           substr(from_open, 1, CAST(sum(length(piece) + 1) OVER w AS BIGINT)) AS candidate,
           sum(length(piece) - length(replace(piece, '{', '')) - 1) OVER w AS depth  -- naive: braces in strings count
    FROM closing_braces
    WHERE piece_no < n_parts  -- the last part has no closing brace after it
    WINDOW w AS (PARTITION BY tool, text_id ORDER BY piece_no ROWS UNBOUNDED PRECEDING)
),
located AS (
    SELECT tool, text_id,
           arg_min(candidate, piece_no) FILTER (
               WHERE json_valid(candidate) AND NOT regexp_matches(candidate, ',\s*[\]}]|[:\[,]\s*-?(NaN|Infinity)')
           ) AS obj,
           bool_or(depth = 0) AS balanced
    FROM prefixes
    GROUP BY tool, text_id
),
oversized AS (  -- more closing braces than any tool object has: the whole balanced span, if it is JSON at all
    SELECT tool, text_id, span,
           length(replace(span, '}', '')) = length(replace(span, '{', '')) AS span_balanced  -- as many { as }
    FROM (SELECT tool, text_id, parts, substr(from_open, 1, length(from_open) - length(list_last(parts))) AS span
          FROM from_open_brace)
    WHERE len(parts) > 65
),
objects AS (
    SELECT t.tool, t.text_id, coalesce(t.whole_object, l.obj, CASE WHEN json_valid(z.span) THEN z.span END) AS obj,
           CASE WHEN t.whole_object IS NOT NULL OR l.obj IS NOT NULL OR json_valid(z.span) THEN NULL
                WHEN coalesce(l.balanced, false) OR coalesce(z.span_balanced, false) THEN 'invalid_json'
                ELSE 'no_json' END AS parse_reason
    FROM strict_json t LEFT JOIN located l USING (tool, text_id) LEFT JOIN oversized z USING (tool, text_id)
),
parsed AS (SELECT tool, text_id, obj FROM objects WHERE obj IS NOT NULL),
top_keys AS (
    SELECT tool, text_id, unnest(json_keys(obj)) AS key FROM parsed
),
key_violations AS (  -- top-level keys the schema lacks, or a key given twice (which value would count?)
    SELECT DISTINCT k.tool, k.text_id
    FROM top_keys k
    ANTI JOIN tool_keys s ON s.tool = k.tool AND s.key = k.key
    UNION
    SELECT tool, text_id FROM top_keys GROUP BY tool, text_id, key HAVING count(*) > 1
),
colour_values AS (  -- selective_adjust: each colour's value, one parse per object (paths from the schema)
    SELECT tool, text_id,
           unnest(json_extract(obj, getvariable('object_paths_selective_adjust'))) AS colour_value
    FROM parsed
    WHERE tool = 'selective_adjust'
),
nested_key_violations AS (  -- a colour that is not an object, or holds other keys than saturation / luminance, or twice
    SELECT DISTINCT tool, text_id
    FROM colour_values
    WHERE colour_value IS NOT NULL
      AND (json_type(colour_value) <> 'OBJECT'
           OR NOT list_has_all(getvariable('nested_keys_selective_adjust'), json_keys(colour_value))
           OR len(json_keys(colour_value)) <> len(list_distinct(json_keys(colour_value))))
),
name_violations AS (  -- filter: the name must be one of the LUT presets (any case)
    SELECT tool, text_id
    FROM parsed
    WHERE tool = 'filter' AND json_type(obj, '$.name') IS NOT NULL
      AND (json_type(obj, '$.name') <> 'VARCHAR'
           OR lower(obj ->> '$.name') NOT IN (SELECT lower(name) FROM lut_names))
),
slot_lists AS (  -- every numeric slot of the schema in canonical order, one parse per object
    SELECT tool, text_id,
           CASE tool
               WHEN 'adjust' THEN json_extract(obj, getvariable('slot_paths_adjust'))
               WHEN 'selective_adjust' THEN json_extract(obj, getvariable('slot_paths_selective_adjust'))
               ELSE json_extract(obj, getvariable('slot_paths_filter'))
           END AS raw_values
    FROM parsed
),
slot_values AS (  -- NULL where the object leaves a slot out
    SELECT s.tool, s.text_id, q.key, q.sub, q.position, q.minimum, q.maximum,
           json_type(s.raw_value) AS value_type,
           TRY_CAST(s.raw_value AS DOUBLE) AS value
    FROM (
        SELECT tool, text_id, unnest(raw_values) AS raw_value, unnest(range(len(raw_values))) AS position
        FROM slot_lists
    ) s
    JOIN tool_params q ON q.tool = s.tool AND q.position = s.position
),
value_violations AS (
    SELECT DISTINCT tool, text_id
    FROM slot_values
    WHERE value_type IS NOT NULL
      AND (value_type NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE') OR value IS NULL OR NOT (value BETWEEN minimum AND maximum))
),
valid AS (
    SELECT p.tool, p.text_id, p.obj
    FROM parsed p
    ANTI JOIN (
        SELECT tool, text_id FROM key_violations
        UNION SELECT tool, text_id FROM nested_key_violations
        UNION SELECT tool, text_id FROM name_violations
        UNION SELECT tool, text_id FROM value_violations
    ) v USING (tool, text_id)
),
rounded AS (  -- schema-valid objects: every slot rounded half away from zero, a missing slot 0 (canonical order)
    SELECT l.tool, l.text_id,
           list_transform(l.raw_values, lambda v: CAST(coalesce(round(TRY_CAST(v AS DOUBLE)), 0) AS BIGINT)) AS slots
    FROM slot_lists l SEMI JOIN valid v USING (tool, text_id)
),
vector_outputs AS (  -- canonical JSON: each slot's value between the schema's key layout (prefix, suffix per slot)
    SELECT tool, text_id,
           array_to_string(list_transform(
               list_zip(
                   CASE tool WHEN 'adjust' THEN getvariable('canonical_prefixes_adjust')
                             ELSE getvariable('canonical_prefixes_selective_adjust') END,
                   slots,
                   CASE tool WHEN 'adjust' THEN getvariable('canonical_suffixes_adjust')
                             ELSE getvariable('canonical_suffixes_selective_adjust') END),
               lambda part: part[1] || CAST(part[2] AS VARCHAR) || part[3]), '') AS canonical,
           list_bool_or(list_transform(slots, lambda v: v <> 0)) AS used
    FROM rounded
    WHERE tool <> 'filter'
),
filter_outputs AS (
    SELECT v.tool, v.text_id, l.name, r.slots[1] AS intensity  -- the filter's one numeric slot
    FROM valid v
    JOIN rounded r USING (tool, text_id)
    LEFT JOIN lut_names l ON lower(l.name) = lower(v.obj ->> '$.name')
    WHERE v.tool = 'filter'
),
filter_canonical AS (
    SELECT tool, text_id,
           CASE WHEN name IS NULL OR name = 'none' OR intensity = 0 THEN '{"name":"none","intensity":0}'
                ELSE '{"name":"' || name || '","intensity":' || CAST(intensity AS VARCHAR) || '}' END AS canonical,
           coalesce(name <> 'none' AND intensity <> 0, false) AS used
    FROM filter_outputs
),
canonical AS (
    SELECT * FROM vector_outputs UNION ALL SELECT * FROM filter_canonical
)
SELECT t.tool, t.text,
       CAST(t.text_id AS BIGINT) AS output_id,  -- a small key for this text's outcome
       CAST(coalesce(o.parse_reason, CASE WHEN c.canonical IS NULL THEN 'schema_violation' END) AS VARCHAR) AS reason,
       CAST(c.canonical AS VARCHAR) AS canonical,  -- compact JSON, schema key order
       CAST(c.used AS BOOLEAN) AS used
FROM texts t
JOIN objects o USING (tool, text_id)
LEFT JOIN canonical c USING (tool, text_id)
