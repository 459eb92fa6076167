-- intent_stats: per normalized intent of the valid calls: n_calls (distinct request_ids), whether any call was
-- exported, how many tools have a valid call, and intent_text (the most frequent stripped surface form, counted
-- in calls; ties: the smallest). `exclusion` is NULL for kept intents, else 'no_exports' or 'incomplete_tools'
-- (checked in that order; incomplete = fewer tools than the pack has).
-- Reads: checked_calls, intents, pack_tools. Writes: intent_stats.
CREATE OR REPLACE TABLE intent_stats AS
WITH valid AS (
    SELECT c.request_id, c.tool, c.exported, c.raw_id, i.intent
    FROM checked_calls c JOIN intents i USING (raw_id)
    WHERE c.final_reason IS NULL
),
surfaces AS (
    SELECT i.intent, i.surface, sum(n) AS uses
    FROM (SELECT raw_id, count(*) AS n FROM valid GROUP BY raw_id) v
    JOIN intents i USING (raw_id)
    GROUP BY i.intent, i.surface
),
best_surface AS (
    SELECT intent, arg_min(surface, (-uses, surface)) AS intent_text FROM surfaces GROUP BY intent
),
per_intent AS (
    SELECT intent,
           CAST(count(DISTINCT request_id) AS BIGINT) AS n_calls,
           bool_or(exported) AS any_export,
           count(DISTINCT tool) AS n_tools
    FROM valid GROUP BY intent
)
SELECT p.intent, b.intent_text, p.n_calls, p.any_export, p.n_tools,
       CAST(CASE WHEN NOT p.any_export THEN 'no_exports' WHEN p.n_tools < (SELECT count(*) FROM pack_tools) THEN 'incomplete_tools' END AS VARCHAR)
           AS exclusion
FROM per_intent p JOIN best_surface b USING (intent)
