-- accounting: rows per outcome ('' = valid, else the quarantine reason), rows read per input file, and intents
-- per outcome ('' = kept, else the exclusion reason). Each file's own counts, with its corrected rows moved from
-- their outcome in the file to duplicate_event: the manifest's identity input_rows = valid + Σ quarantined holds.
-- 'matched': the requests that matched an outcome, summed over the files (a request logged in two files counts
-- twice). Reads: all_accounting, all_corrections, intent_stats, build_files. Writes: accounting(kind, name, n).
CREATE OR REPLACE TABLE accounting AS
SELECT 'rows' AS kind, name, CAST(sum(n) AS BIGINT) AS n
FROM (
    SELECT name, n FROM all_accounting WHERE kind = 'rows'
    UNION ALL
    SELECT coalesce(partial_reason, ''), -1 FROM all_corrections
    UNION ALL
    SELECT 'duplicate_event', 1 FROM all_corrections
)
GROUP BY name
UNION ALL
SELECT 'read', f.path, a.n FROM all_accounting a JOIN build_files f USING (file_order) WHERE a.kind = 'read'
UNION ALL
SELECT 'intents', coalesce(exclusion, ''), count(*) FROM intent_stats GROUP BY ALL
UNION ALL
SELECT 'matched', '', CAST(coalesce(sum(n), 0) AS BIGINT) FROM all_accounting WHERE kind = 'matched'
