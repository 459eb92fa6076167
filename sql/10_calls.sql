-- calls: the one pass over the raw records. Keeps the light columns, types them, applies the build window, and
-- cuts each response after its first 'JSON:' marker (`json_tail`; the whole response when it has none): the
-- only time the long chain-of-thought text is touched. `type_reason` is bad_record, missing_field or bad_type,
-- or a gateway line's reason (08_raw_gateway: line_reason); `call_reason` (repeated_tool) is judged in
-- 25_checked_calls.
-- The texts later models group or join on (tail, raw intent, event id) also get 64-bit hashes here, once.
-- Reads: raw. Params: $since, $until (TIMESTAMPTZ or NULL). Writes: calls.
CREATE OR REPLACE TABLE calls AS
WITH typed AS (
    SELECT
        file_order, source_line, event_id, request_id, ts, intent AS intent_raw, tool, call_reason,
        CASE
            WHEN NOT is_object THEN 'bad_record'
            WHEN line_reason IS NOT NULL THEN line_reason
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
        END AS type_reason,
        exported IN ('true', '1') AS exported,
        CASE WHEN strpos(response, 'JSON:') > 0 THEN substr(response, strpos(response, 'JSON:') + 5)
             ELSE response END AS json_tail
    FROM raw
)
SELECT
    file_order, source_line, CAST(type_reason AS VARCHAR) AS type_reason,
    event_id, request_id, intent_raw, tool,  -- ts decided the window (below); no later model reads it
    CASE WHEN type_reason IS NULL THEN exported END AS exported,
    CASE WHEN type_reason IS NULL THEN call_reason END AS call_reason,
    CASE WHEN type_reason IS NULL THEN json_tail END AS json_tail,
    CASE WHEN type_reason IS NULL THEN hash(json_tail) END AS tail_hash,  -- joins on an integer, not the text
    CASE WHEN type_reason IS NULL THEN hash(intent_raw) END AS intent_hash,
    CASE WHEN type_reason IS NULL THEN hash(event_id) END AS event_hash
FROM typed
-- a row whose timestamp lies outside --since/--until is not part of this build at all
WHERE type_reason IS NOT NULL
   OR ((CAST($since AS TIMESTAMPTZ) IS NULL OR ts >= CAST($since AS TIMESTAMPTZ))
       AND (CAST($until AS TIMESTAMPTZ) IS NULL OR ts < CAST($until AS TIMESTAMPTZ)))
