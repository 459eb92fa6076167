-- split: an intent is in 'test' iff h < $test_threshold, where h = the first 8 bytes (big-endian) of
-- sha256("{seed}\x1f{intent}"). $test_threshold = ceil(test_fraction · 2⁶⁴), computed exactly by the caller.
-- Membership depends on the intent alone, so a test intent never drifts into train as the logs grow.
-- Only the touched intents' (the carried rows keep theirs: the same seed and fraction are in their entry's key).
-- Reads: intent_stats, touched_intents. Params: $seed (text), $test_threshold (HUGEINT). Writes: split.
CREATE OR REPLACE TABLE split AS
SELECT
    intent,
    CAST(CASE WHEN CAST(CAST('0x' || substr(sha256($seed || chr(31) || intent), 1, 16) AS UBIGINT) AS HUGEINT)
                   < CAST($test_threshold AS HUGEINT)
              THEN 'test' ELSE 'train' END AS VARCHAR) AS split
FROM intent_stats
WHERE exclusion IS NULL AND intent IN (SELECT intent FROM touched_intents)
