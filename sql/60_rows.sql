-- rows: one row per kept intent (the `rows` dataset): the three ground truths side by side, their "used"
-- flags, n_calls, provenance and split.
-- Reads: ground_truth, intent_stats, split. Writes: rows.
CREATE OR REPLACE TABLE rows AS
SELECT
    s.intent,
    s.intent_text,
    CAST(max(g.canonical) FILTER (WHERE g.tool = 'adjust') AS VARCHAR) AS adjust,
    CAST(max(g.canonical) FILTER (WHERE g.tool = 'selective_adjust') AS VARCHAR) AS selective_adjust,
    CAST(max(g.canonical) FILTER (WHERE g.tool = 'filter') AS VARCHAR) AS filter,
    CAST(bool_or(g.used) FILTER (WHERE g.tool = 'adjust') AS BOOLEAN) AS adjust_used,
    CAST(bool_or(g.used) FILTER (WHERE g.tool = 'selective_adjust') AS BOOLEAN) AS selective_adjust_used,
    CAST(bool_or(g.used) FILTER (WHERE g.tool = 'filter') AS BOOLEAN) AS filter_used,
    s.n_calls,
    'teacher' AS source,
    CAST(NULL AS VARCHAR) AS augmented_from,
    CAST(0 AS BIGINT) AS iteration,
    p.split
FROM intent_stats s
JOIN ground_truth g USING (intent)
JOIN split p USING (intent)
GROUP BY s.intent, s.intent_text, s.n_calls, p.split
ORDER BY s.intent
