-- iso_instant: the one reading of a timestamp written as text (raw_jsonl, raw_parquet, file_quarantine): an
-- ISO-8601 instant, extended (2024-03-06T02:08:07.5+01:00, or a date) or basic (20240306T020807Z), as
-- TIMESTAMPTZ; NULL for anything else: DuckDB's own cast also reads 'epoch', 'infinity', time zone names and
-- unpadded fields, none of which the raw log contract accepts (bad_type).
-- Writes: iso_instant (macro).
CREATE OR REPLACE MACRO iso_instant(t) AS CASE
    WHEN regexp_full_match(t, '\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?')
        THEN TRY_CAST(t AS TIMESTAMPTZ)
    WHEN regexp_full_match(t, '\d{8}T\d{6}(\.\d+)?(Z|[+-]\d{2}(\d{2})?)?')
        THEN TRY_CAST(regexp_replace(t, '^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})', '\1-\2-\3T\4:\5:\6')
                      AS TIMESTAMPTZ)
    WHEN regexp_full_match(t, '\d{8}T\d{4}(Z|[+-]\d{2}(\d{2})?)?')
        THEN TRY_CAST(regexp_replace(t, '^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})', '\1-\2-\3T\4:\5') AS TIMESTAMPTZ)
END;
