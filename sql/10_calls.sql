-- calls: typed and normalized teacher calls in the build window, each with the first quarantine reason that
-- applies before the JSON is looked at (bad_record, missing_field, bad_type, duplicate_event, unknown_tool,
-- empty_intent, intent_too_long), or NULL.
-- Reads:  raw, normalize_intent() (the Python definition, registered as a function, run on distinct intents)
-- Params: $since, $until (TIMESTAMPTZ or NULL), $max_intent_chars
-- Writes: calls; `json_tail` is the response after its first 'JSON:' marker (the whole response without one):
--         the only pass over the long chain-of-thought text.
CREATE OR REPLACE TABLE calls AS
WITH typed AS (
    SELECT *,
        CASE
            WHEN NOT is_object THEN 'bad_record'
            WHEN coalesce(event_id_type, 'NULL') = 'NULL' OR coalesce(request_id_type, 'NULL') = 'NULL'
              OR coalesce(ts_type, 'NULL') = 'NULL' OR coalesce(intent_type, 'NULL') = 'NULL'
              OR coalesce(tool_type, 'NULL') = 'NULL' OR coalesce(response_type, 'NULL') = 'NULL'
              OR coalesce(exported_type, 'NULL') = 'NULL' THEN 'missing_field'
            WHEN event_id_type <> 'VARCHAR' OR request_id_type <> 'VARCHAR' OR intent_type <> 'VARCHAR'
              OR tool_type <> 'VARCHAR' OR response_type <> 'VARCHAR'
              OR ts IS NULL
              OR NOT (exported_type = 'BOOLEAN'
                      OR (exported_type IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT',
                                            'UINTEGER', 'UBIGINT', 'HUGEINT') AND exported IN ('0', '1')))
              THEN 'bad_type'
        END AS type_reason
    FROM raw
),
in_window AS (  -- a row whose timestamp lies outside --since/--until is not part of this build at all
    SELECT * FROM typed
    WHERE type_reason IS NOT NULL
       OR ((CAST($since AS TIMESTAMPTZ) IS NULL OR ts >= CAST($since AS TIMESTAMPTZ))
           AND (CAST($until AS TIMESTAMPTZ) IS NULL OR ts < CAST($until AS TIMESTAMPTZ)))
),
ranked AS (
    SELECT *,
        CASE WHEN type_reason IS NULL AND row_number() OVER (
            PARTITION BY event_id, type_reason IS NULL ORDER BY file_order, source_line) > 1
        THEN 'duplicate_event' END AS duplicate_reason
    FROM in_window
),
normalized AS (
    SELECT intent, normalize_intent(intent) AS norm
    FROM (SELECT DISTINCT intent FROM ranked WHERE type_reason IS NULL AND intent IS NOT NULL)
)
SELECT
    r.source_file, r.source_line, r.file_order,
    CAST(coalesce(
        r.type_reason,
        r.duplicate_reason,
        CASE WHEN r.tool NOT IN ('adjust', 'selective_adjust', 'filter') THEN 'unknown_tool' END,
        CASE WHEN n.norm = '' THEN 'empty_intent' END,
        CASE WHEN length(n.norm) > $max_intent_chars THEN 'intent_too_long' END
    ) AS VARCHAR) AS reason,
    r.event_id, r.request_id, r.ts,
    r.intent AS intent_raw,
    n.norm AS intent,
    r.tool,
    CASE WHEN r.type_reason IS NULL THEN r.exported IN ('true', '1') END AS exported,
    r.response,
    CASE WHEN strpos(r.response, 'JSON:') > 0 THEN substr(r.response, strpos(r.response, 'JSON:') + 5)
         ELSE r.response END AS json_tail,
    r.record
FROM ranked r
LEFT JOIN normalized n ON n.intent = r.intent
