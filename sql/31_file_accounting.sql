-- file_accounting: per file read, its rows per outcome within the file ('' = valid, else the quarantine reason)
-- and its rows read (the build window aside); for a gateway file also its requests that matched an outcome
-- (kind 'matched': distinct request ids with an --outcomes record or an --outcome-field value).
-- Reads: raw, raw_gateway, checked_calls. Writes: file_accounting(file_order, kind, name, n).
CREATE OR REPLACE TABLE file_accounting AS
SELECT file_order, 'rows' AS kind, coalesce(final_reason, '') AS name, count(*) AS n FROM checked_calls GROUP BY ALL
UNION ALL
SELECT file_order, 'read', '', count(*) FROM (SELECT file_order FROM raw) GROUP BY ALL
UNION ALL
SELECT file_order, 'matched', '', count(DISTINCT request_id) FROM raw_gateway WHERE outcome_matched GROUP BY ALL
