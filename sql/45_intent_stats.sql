-- intent_stats: per normalized intent of the valid calls: n_calls (distinct request_ids, summed from
-- first_pairs), whether any call was exported, how many tools have a valid call, and intent_text (the most
-- frequent stripped surface form, counted in calls; ties: the smallest). `exclusion` is NULL for kept intents,
-- else 'no_exports' or 'incomplete_tools' (checked in that order; incomplete = fewer tools than the pack has).
-- Computed for the touched intents; the others' are carried from the earlier build that holds them (43_carried).
-- Reads: candidates, all_surfaces, all_corrections, all_first_pairs, touched_intents, carried(), pack_tools.
-- Writes: intent_stats.
CREATE OR REPLACE TABLE intent_stats AS
WITH per_intent AS (
    SELECT intent, sum(exports) > 0 AS any_export, count(DISTINCT tool) AS n_tools
    FROM candidates
    GROUP BY intent
),
surfaces AS (
    SELECT intent, surface, sum(uses) AS uses
    FROM (
        SELECT intent, surface, uses FROM all_surfaces
        UNION ALL
        SELECT intent, surface, -count(*) FROM all_corrections WHERE partial_reason IS NULL GROUP BY intent, surface
    )
    WHERE intent IN (SELECT intent FROM touched_intents)
    GROUP BY intent, surface
    HAVING sum(uses) > 0
),
best_surface AS (
    SELECT intent, arg_min(surface, (-uses, surface)) AS intent_text FROM surfaces GROUP BY intent
),
requests AS (
    SELECT intent, CAST(sum(n) AS BIGINT) AS n_calls
    FROM all_first_pairs
    WHERE intent IN (SELECT intent FROM touched_intents)
    GROUP BY intent
)
SELECT p.intent, b.intent_text, r.n_calls, p.any_export, p.n_tools,
       CAST(CASE WHEN NOT p.any_export THEN 'no_exports' WHEN p.n_tools < (SELECT count(*) FROM pack_tools) THEN 'incomplete_tools' END AS VARCHAR)
           AS exclusion
FROM per_intent p JOIN best_surface b USING (intent) JOIN requests r USING (intent)
UNION ALL BY NAME
SELECT * FROM carried('intent_stats.parquet')
