-- all_surfaces: file_surfaces over every file of the build, the cached ones and the ones read now.
-- Reads: cached_table(), file_surfaces. Writes: all_surfaces (view).
CREATE OR REPLACE VIEW all_surfaces AS
SELECT * FROM cached_table('surfaces.parquet') UNION ALL BY NAME SELECT * FROM file_surfaces
