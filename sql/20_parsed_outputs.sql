-- parsed_outputs: parse, validate and canonicalize every distinct (tool, text) of `output_texts`.
-- The object is the first balanced JSON object after the last 'JSON:' marker of the text (or, with no marker,
-- the first one in the text). It is validated against the tool's JSON Schema from the tool pack, which arrives as
-- tables (databuild.sqlrun.pack_tables): pack_tools (per tool, its slots' layout as lists in canonical order),
-- pack_keys, pack_objects, pack_slots, pack_enums; and the variables slot_paths / object_paths (every distinct
-- JSON path of the pack: JSON functions need constant paths, so each tool picks its positions from one list).
-- Reads:  output_texts(tool, text), the pack tables.
-- Params: $alt_marker: another marker treated exactly like 'JSON:' (snapshot passes 'JSON:'; eval 'Parameters:')
-- Writes: parsed_outputs(tool, text, output_id, reason, canonical, used); reason is NULL, 'no_json', 'invalid_json' or
--         'schema_violation'; canonical is compact JSON in the schema's key order, defaults filled in, numbers
--         rounded half away from zero to their multipleOf, enums in their canonical spelling, a neutral output as
--         the tool's neutral object; used = not neutral.
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
key_violations AS (  -- keys a strict schema lacks, a key given twice (which value would count?), a required key absent
    SELECT DISTINCT k.tool, k.text_id
    FROM top_keys k
    SEMI JOIN (SELECT tool FROM pack_tools WHERE strict) t USING (tool)
    ANTI JOIN pack_keys s ON s.tool = k.tool AND s.key = k.key
    UNION
    SELECT tool, text_id FROM top_keys GROUP BY tool, text_id, key HAVING count(*) > 1
    UNION
    SELECT p.tool, p.text_id
    FROM parsed p
    JOIN pack_keys r ON r.tool = p.tool AND r.required
    ANTI JOIN top_keys k ON k.tool = p.tool AND k.text_id = p.text_id AND k.key = r.key
),
object_values AS (  -- each nested object's value, one parse per object (paths of all nested objects of the pack)
    SELECT v.tool, v.text_id, v.value, o.subs, o.strict
    FROM (
        SELECT tool, text_id,
               unnest(json_extract(obj, getvariable('object_paths'))) AS value,
               unnest(range(1, len(getvariable('object_paths')) + 1)) AS object_index
        FROM parsed
        SEMI JOIN pack_objects USING (tool)
    ) v
    JOIN pack_objects o USING (tool, object_index)
),
nested_key_violations AS (  -- a nested value that is not an object, or holds keys its strict schema lacks, or twice
    SELECT DISTINCT tool, text_id
    FROM object_values
    WHERE value IS NOT NULL
      AND (json_type(value) <> 'OBJECT'
           OR (strict AND NOT list_has_all(subs, json_keys(value)))
           OR len(json_keys(value)) <> len(list_distinct(json_keys(value))))
),
slot_lists AS (  -- every leaf of the tool in canonical order, one parse per object
    SELECT p.tool, p.text_id, list_select(json_extract(p.obj, getvariable('slot_paths')), t.path_indexes) AS raw_values
    FROM parsed p JOIN pack_tools t USING (tool)
),
slot_values AS (  -- NULL where the object leaves a slot out
    SELECT s.tool, s.text_id, s.slot, q.kind, q.minimum, q.maximum,
           json_type(s.raw_value) AS value_type,
           CASE WHEN q.kind = 'enum' THEN s.raw_value ->> '$' END AS text_value,
           CASE WHEN q.kind <> 'enum' THEN TRY_CAST(s.raw_value AS DOUBLE) END AS value
    FROM (
        SELECT tool, text_id, unnest(raw_values) AS raw_value, unnest(range(1, len(raw_values) + 1)) AS slot
        FROM slot_lists
    ) s
    JOIN pack_slots q USING (tool, slot)
),
enum_values AS (  -- enum slots given by the object, with their canonical spelling (NULL: not one of the values)
    SELECT v.tool, v.text_id, v.slot, v.value_type, e.value_json
    FROM slot_values v
    LEFT JOIN pack_enums e ON e.tool = v.tool AND e.slot = v.slot AND lower(e.value) = lower(v.text_value)
    WHERE v.kind = 'enum' AND v.value_type IS NOT NULL
),
value_violations AS (
    SELECT DISTINCT tool, text_id
    FROM slot_values
    WHERE kind <> 'enum' AND value_type IS NOT NULL
      AND (value_type NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE') OR value IS NULL
           OR value < coalesce(minimum, value) OR value > coalesce(maximum, value)
           OR (kind = 'integer' AND value <> trunc(value)))
    UNION
    SELECT tool, text_id FROM enum_values WHERE value_type <> 'VARCHAR' OR value_json IS NULL
),
valid AS (
    SELECT p.tool, p.text_id
    FROM parsed p
    ANTI JOIN (
        SELECT tool, text_id FROM key_violations
        UNION SELECT tool, text_id FROM nested_key_violations
        UNION SELECT tool, text_id FROM value_violations
    ) v USING (tool, text_id)
),
spelled AS (  -- per valid object with enum slots: slot -> the value's canonical spelling as JSON
    SELECT tool, text_id, map_from_entries(list((slot, value_json))) AS enum_texts
    FROM enum_values SEMI JOIN valid USING (tool, text_id)
    GROUP BY tool, text_id
),
rounded AS (  -- numbers rounded half away from zero to their step (then to the step's decimals); NULL = absent
    SELECT l.tool, l.text_id, s.enum_texts,
           list_transform(l.raw_values, lambda v, i: round(round(TRY_CAST(v AS DOUBLE) / t.steps[i]) * t.steps[i],
                                                          t.decimals[i])) AS numbers
    FROM slot_lists l
    SEMI JOIN valid USING (tool, text_id)
    JOIN pack_tools t USING (tool)
    LEFT JOIN spelled s USING (tool, text_id)
),
slot_texts AS (  -- each slot's value as JSON text (absent: the default)
    SELECT r.tool, r.text_id,
           list_transform(r.numbers, lambda x, i: coalesce(
               CASE WHEN t.kinds[i] = 'enum' THEN r.enum_texts[i]
                    WHEN x = trunc(x) AND abs(x) < 1e15 THEN CAST(CAST(x AS BIGINT) AS VARCHAR)
                    ELSE CAST(x AS VARCHAR) END,
               t.defaults[i])) AS texts
    FROM rounded r JOIN pack_tools t USING (tool)
),
canonical AS (  -- each value between the schema's key layout (prefix, suffix per slot); neutral: the neutral object
    SELECT s.tool, s.text_id, s.is_neutral,
           CASE WHEN s.is_neutral THEN t.neutral
                ELSE array_to_string(list_transform(s.texts, lambda x, i: t.prefixes[i] || x || t.suffixes[i]), '')
           END AS canonical
    FROM (
        SELECT s.tool, s.text_id, s.texts,
               s.texts = t.defaults
               OR coalesce(list_bool_or(list_transform(s.texts, lambda x, i: x = t.neutral_if[i])), false) AS is_neutral
        FROM slot_texts s JOIN pack_tools t USING (tool)
    ) s
    JOIN pack_tools t USING (tool)
)
SELECT t.tool, t.text,
       CAST(t.text_id AS BIGINT) AS output_id,  -- a small key for this text's outcome
       CAST(coalesce(o.parse_reason, CASE WHEN c.canonical IS NULL THEN 'schema_violation' END) AS VARCHAR) AS reason,
       CAST(c.canonical AS VARCHAR) AS canonical,  -- compact JSON, schema key order
       CAST(NOT c.is_neutral AS BOOLEAN) AS used
FROM texts t
JOIN objects o USING (tool, text_id)
LEFT JOIN canonical c USING (tool, text_id)
