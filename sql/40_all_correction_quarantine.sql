-- all_correction_quarantine: the quarantine rows (duplicate_event) of the corrections of every file of the build,
-- cached or found now.
-- Reads: cached_context(), file_quarantine. Writes: all_correction_quarantine (view).
CREATE OR REPLACE VIEW all_correction_quarantine AS
SELECT * FROM cached_context('correction_quarantine.parquet')
UNION ALL BY NAME SELECT * EXCLUDE (corrected) FROM file_quarantine WHERE corrected
