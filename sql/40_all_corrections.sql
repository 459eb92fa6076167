-- all_corrections: the corrections of every file of the build (cached, or found now by 34/35), each with what
-- the row counted for in its own file (35_correction_rows).
-- Reads: cached_context(), correction_rows. Writes: all_corrections (view).
CREATE OR REPLACE VIEW all_corrections AS
SELECT * FROM cached_context('corrections.parquet') UNION ALL BY NAME SELECT * FROM correction_rows
