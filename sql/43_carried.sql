-- carried: the merged result of an earlier build whose files are this build's first files (a `results/` cache
-- entry, with its intent_stats and rows), less the touched intents, which this build computes again.
-- carried('<table>.parquet') reads one of the entry's tables. With nothing carried, $carried_results is the empty
-- $no_entry folder: no rows, and the column intent alone (the callers' UNION ALL BY NAME adds the others).
-- Reads: touched_intents. Params: $carried_results, $no_entry (paths). Writes: macro carried.
SET VARIABLE carried_folders = [$carried_results, $no_entry];
CREATE OR REPLACE MACRO carried(table_file) AS TABLE
    SELECT c.* EXCLUDE (no_entry)
    FROM (
        SELECT * FROM read_parquet(
            list_transform(getvariable('carried_folders'), lambda d: d || '/' || table_file), union_by_name = true
        )
        UNION ALL BY NAME
        SELECT CAST(NULL AS VARCHAR) AS intent WHERE false
    ) c
    ANTI JOIN touched_intents t ON t.intent = c.intent;
