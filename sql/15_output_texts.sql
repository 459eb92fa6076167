-- output_texts: the distinct (tool, JSON tail) pairs of the calls whose record is well-typed; only these short
-- texts are parsed (20_parsed_outputs), however many rows share them. (Calls rejected later for a record-level reason
-- may add a text or two: parsing a text decides nothing about a row by itself.)
-- Texts are grouped by their 64-bit hash; `hash_collision` flags a hash shared by two different texts, which the
-- caller treats as an error rather than ever joining a call to the wrong output.
-- Reads: calls, pack_tools. Writes: output_texts(tool, tail_hash, text, hash_collision).
CREATE OR REPLACE TABLE output_texts AS
SELECT tool, tail_hash, min(json_tail) AS text, min(json_tail) <> max(json_tail) AS hash_collision
FROM calls
WHERE type_reason IS NULL AND tool IN (SELECT tool FROM pack_tools)
GROUP BY tool, tail_hash
