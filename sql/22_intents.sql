-- intents: each distinct raw intent of the well-typed calls, with a small id and its normalized form.
-- Normalization is the Python definition (`" ".join(NFKC(text).casefold().split())`), registered as the
-- function normalize_intent() and run once per distinct raw intent, never per row.
-- `surface` is the raw intent stripped by Python's str.strip() (strip_surface()), the form intent_text counts.
-- Reads: calls. Writes: intents(raw_id, intent_raw, intent, surface).
CREATE OR REPLACE TABLE intents AS
SELECT row_number() OVER () AS raw_id, intent_raw, normalize_intent(intent_raw) AS intent,
       strip_surface(intent_raw) AS surface
FROM (SELECT DISTINCT intent_raw FROM calls WHERE type_reason IS NULL)
