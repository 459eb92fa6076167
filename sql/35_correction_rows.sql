-- correction_rows: what each corrected row counted for in its own file (all in files read now: the caller reads a
-- cached file again when it has corrections): its outcome there (NULL = valid), and for a valid row its
-- candidate (intent, tool, canonical, used, exported), its request pair key (as 27_file_requests) and its surface.
-- Reads: corrections, checked_calls, intents, parsed_outputs. Writes: correction_rows.
CREATE OR REPLACE TABLE correction_rows AS
SELECT
    c.file_order, c.source_line, k.final_reason AS partial_reason,
    i.intent, k.tool, p.canonical, p.used, k.exported,
    hash(i.intent || chr(31) || k.request_id) AS pair_a,
    hash(chr(31) || k.request_id || chr(31) || i.intent) AS pair_b,
    i.surface
FROM corrections c
JOIN checked_calls k USING (file_order, source_line)
LEFT JOIN intents i USING (raw_id)
LEFT JOIN parsed_outputs p USING (output_id)
