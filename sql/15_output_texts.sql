-- output_texts: the distinct (tool, JSON tail) pairs of the calls that passed the record checks; only these
-- short texts are parsed (20_outputs), however many rows share them.
-- Reads: call_checks. Writes: output_texts (view).
CREATE OR REPLACE VIEW output_texts AS
SELECT DISTINCT tool, json_tail AS text
FROM call_checks
WHERE reason IS NULL
