-- output_texts: the distinct (tool, JSON tail) pairs of the calls whose record is well-typed; only these short
-- texts are parsed (20_outputs), however many rows share them. (Calls rejected later for a record-level reason
-- may add a text or two: parsing a text decides nothing about a row by itself.)
-- Reads: calls. Writes: output_texts.
CREATE OR REPLACE TABLE output_texts AS
SELECT DISTINCT tool, json_tail AS text
FROM calls
WHERE type_reason IS NULL AND tool IN ('adjust', 'selective_adjust', 'filter')
