-- rows: one row per kept intent (the `rows` dataset): its ground truths and their "used" flags as lists in the
-- pack's tool order (the caller spreads them into one column per tool), n_calls, provenance and split.
-- Computed for the touched intents; the others' rows are carried from the earlier build that holds them.
-- In no order: the version sorts its rows by intent.
-- Reads: ground_truth, intent_stats, split, pack_tools, carried(). Writes: rows.
CREATE OR REPLACE TABLE rows AS
WITH computed AS (
    SELECT
        s.intent,
        s.intent_text,
        CAST(list(g.canonical ORDER BY t.tool_no) AS VARCHAR[]) AS canonicals,  -- pack order
        CAST(list(g.used ORDER BY t.tool_no) AS BOOLEAN[]) AS used_flags,
        s.n_calls,
        'teacher' AS source,
        CAST(NULL AS VARCHAR) AS augmented_from,
        CAST(0 AS BIGINT) AS iteration,
        p.split
    FROM intent_stats s
    JOIN ground_truth g USING (intent)
    JOIN pack_tools t ON t.tool = g.tool
    JOIN split p USING (intent)
    GROUP BY s.intent, s.intent_text, s.n_calls, p.split
)
SELECT * FROM computed
UNION ALL BY NAME
SELECT * FROM carried('rows.parquet')
