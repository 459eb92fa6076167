-- ground_truth: per kept intent and tool, the candidate with the highest export rate
-- (or, with $rank = 'wilson', the highest 95 % Wilson lower bound of that rate); ties go to more exports, then
-- more calls, then the smaller canonical JSON string.
-- Reads: candidates, intent_stats. Params: $rank ('raw' | 'wilson'). Writes: ground_truth.
CREATE OR REPLACE TABLE ground_truth AS
WITH scored AS (
    SELECT c.*,
        c.exports / c.calls AS export_rate,
        -- Wilson lower bound, z = 1.96: (p + z²/2n − z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)
        (c.exports / c.calls + 1.96 ^ 2 / (2 * c.calls)
         - 1.96 * sqrt((c.exports / c.calls) * (1 - c.exports / c.calls) / c.calls + 1.96 ^ 2 / (4 * c.calls ^ 2)))
        / (1 + 1.96 ^ 2 / c.calls) AS wilson_lower
    FROM candidates c
    JOIN intent_stats s ON s.intent = c.intent AND s.exclusion IS NULL
),
best AS (  -- one grouping: the smallest (-score, -exports, -calls, canonical) wins, as a struct compares field by field
    SELECT intent, tool, arg_min(
        {'canonical': canonical, 'used': used, 'calls': calls, 'exports': exports,
         'export_rate': export_rate, 'wilson_lower': wilson_lower},
        {'score': -CASE WHEN $rank = 'wilson' THEN wilson_lower ELSE export_rate END,
         'exports': -exports, 'calls': -calls, 'canonical': canonical}
    ) AS pick
    FROM scored
    GROUP BY intent, tool
)
SELECT intent, tool, pick.canonical, pick.used, pick.calls, pick.exports, pick.export_rate, pick.wilson_lower
FROM best
