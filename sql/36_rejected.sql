-- rejected: the rows of the files read now that go to the quarantine: rejected within their file (cached with the
-- file), and the corrections, now duplicate_event (cached with the file's context).
-- Reads: checked_calls, corrections. Writes: rejected(file_order, source_line, reason, corrected).
CREATE OR REPLACE TABLE rejected AS
SELECT file_order, source_line, final_reason AS reason, false AS corrected FROM checked_calls WHERE final_reason IS NOT NULL
UNION ALL
SELECT file_order, source_line, 'duplicate_event', true FROM corrections
