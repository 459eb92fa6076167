-- intents: each distinct raw intent of the well-typed calls, with a small id and its normalized form.
-- Normalization is the Python definition (`" ".join(NFKC(text).casefold().split())`), registered as the
-- function normalize_intent() and run once per distinct raw intent, never per row.
-- `surface` is the raw intent stripped by Python's str.strip() (strip_surface()), the form intent_text counts.
-- Calls find their intent by its 64-bit hash (an integer join over every row); `hash_collision` flags a hash
-- shared by two different raw intents, which the caller treats as an error.
-- Reads: calls. Writes: intents(raw_id, intent_hash, intent_raw, intent, surface, hash_collision).
CREATE OR REPLACE TABLE intents AS
SELECT row_number() OVER () AS raw_id, intent_hash, intent_raw, normalize_intent(intent_raw) AS intent,
       strip_surface(intent_raw) AS surface, hash_collision
FROM (
    SELECT intent_hash, min(intent_raw) AS intent_raw, min(intent_raw) <> max(intent_raw) AS hash_collision
    FROM calls
    WHERE type_reason IS NULL
    GROUP BY intent_hash
)
