-- all contexts: the corrections of every file of the build (cached, or found now by 34/35) with their quarantine
-- rows; and first_pairs, filled for the files whose context is not cached by 41_first_pairs.
-- Reads: cached_context(), correction_rows, file_quarantine. Writes: views all_corrections,
-- all_correction_quarantine, all_first_pairs; table first_pairs (empty).
CREATE OR REPLACE VIEW all_corrections AS
SELECT * FROM cached_context('corrections.parquet') UNION ALL BY NAME SELECT * FROM correction_rows;
CREATE OR REPLACE VIEW all_correction_quarantine AS
SELECT * FROM cached_context('correction_quarantine.parquet')
UNION ALL BY NAME SELECT * EXCLUDE (corrected) FROM file_quarantine WHERE corrected;
CREATE OR REPLACE TABLE first_pairs (file_order INTEGER, intent VARCHAR, n BIGINT);
CREATE OR REPLACE VIEW all_first_pairs AS
SELECT * FROM cached_context('first_pairs.parquet') UNION ALL BY NAME SELECT * FROM first_pairs;
