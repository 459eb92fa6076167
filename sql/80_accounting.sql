-- accounting: rows per outcome ('' = valid, else the quarantine reason), rows read per input file, and intents
-- per outcome ('' = kept, else the exclusion reason). The manifest's identity input_rows = valid + Σ
-- quarantined follows from counting checked_calls, which holds every input row of the build window once.
-- Reads: raw, checked_calls, intent_stats. Writes: accounting(kind, name, n).
CREATE OR REPLACE TABLE accounting AS
SELECT 'rows' AS kind, coalesce(final_reason, '') AS name, count(*) AS n FROM checked_calls GROUP BY ALL
UNION ALL
SELECT 'read', source_file, count(*) FROM (SELECT source_file FROM raw) GROUP BY ALL
UNION ALL
SELECT 'intents', coalesce(exclusion, ''), count(*) FROM intent_stats GROUP BY ALL
