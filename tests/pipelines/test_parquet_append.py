"""Appending one Parquet file's row groups to a copy of another (pipelines/parquet_append.py): the result reads
back, in pyarrow, DuckDB and Polars, as the rows of the first file then the second, with every offset (pages,
dictionaries, Bloom filters) moved; files that cannot be joined are refused (another schema, an offset index whose
page locations would need rewriting, a footer that does not decode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.parquet_append import CannotAppend, _footer, _write_struct, append_parquet


def table(first: int, rows: int) -> pa.Table:
    return pa.table({
        "source_file": pa.array([f"day{first:03d}.jsonl"] * rows),
        "source_line": pa.array(range(first * 1000, first * 1000 + rows), pa.int64()),
        "reason": pa.array([("no_json", "bad_record", None)[i % 3] for i in range(rows)]),
        "record": pa.array([f"record {first}-{i} " + "x" * (i % 50) for i in range(rows)]),
        "score": pa.array([i / 7 for i in range(rows)], pa.float64()),
        "flag": pa.array([i % 2 == 0 for i in range(rows)]),
    })  # fmt: skip


def write(path: Path, parts: list[pa.Table], **options: Any) -> Path:
    with pq.ParquetWriter(path, parts[0].schema, **options) as writer:
        for part in parts:
            writer.write_table(part, row_group_size=400)
    return path


def appended(tmp_path: Path, base: Path, extra: Path) -> Path:
    out = tmp_path / "out.parquet"
    with open(out, "wb") as handle:
        append_parquet(base, extra, handle)
    return out


PAGE_INDEX = {"write_page_index": True}
OPTIONS = [
    {},
    {"write_page_checksum": True, "data_page_version": "2.0"},
    {"bloom_filter_options": {"source_file": {"ndv": 100, "fpp": 0.01}, "record": {"ndv": 5000, "fpp": 0.05}}},
    {"compression": "zstd", "use_dictionary": ["reason"], "write_statistics": ["source_line"]},
]


@pytest.mark.parametrize("options", OPTIONS, ids=["defaults", "checksums-v2-pages", "bloom", "zstd"])
def test_the_appended_file_holds_both_files_rows_in_order(tmp_path: Path, options: dict[str, Any]) -> None:
    first = [table(1, 1000), table(2, 10)]  # row groups of 400, 400, 200, then 10
    second = [table(3, 900), table(4, 5)]  # 400, 400, 100, then 5
    base = write(tmp_path / "base.parquet", first, **options)
    extra = write(tmp_path / "extra.parquet", second, **options)
    out = appended(tmp_path, base, extra)

    expected = pa.concat_tables(first + second)
    assert pq.read_table(out).equals(expected)
    assert pl.read_parquet(out).equals(pl.from_arrow(expected))  # type: ignore[arg-type]
    metadata = pq.read_metadata(out)
    assert (metadata.num_rows, metadata.num_row_groups) == (1915, 8)
    with duckdb.connect() as con:  # filters use the statistics, dictionaries and Bloom filters of the moved chunks
        assert con.sql(f"SELECT count(*) FROM '{out}' WHERE source_file = 'day003.jsonl'").fetchall() == [(900,)]
        assert con.sql(f"SELECT count(*) FROM '{out}' WHERE record = 'record 4-3 xxx'").fetchall() == [(1,)]
        assert con.sql(f"SELECT max(source_line) FROM '{out}' WHERE reason = 'no_json'").fetchall() == [(4003,)]


def test_every_offset_of_the_second_file_moves_by_where_its_pages_now_lie(tmp_path: Path) -> None:
    options = OPTIONS[2]  # Bloom filters: an offset of their own per column chunk
    base = write(tmp_path / "base.parquet", [table(1, 700)], **options)
    extra = write(tmp_path / "extra.parquet", [table(2, 700)], **options)
    out = appended(tmp_path, base, extra)
    _, base_end = _footer(base)
    delta = base_end - 4  # the second file's pages start after its magic, and now after the first file's pages

    def offsets(path: Path) -> list[int]:
        meta, _ = _footer(path)
        found = []
        for group in dict((i, v) for i, _, v in meta)[4][1]:
            fields = {i: v for i, _, v in group}
            found.append(fields[5])  # row group file_offset
            for chunk in fields[1][1]:
                chunk_fields = {i: v for i, _, v in chunk}
                found += [chunk_fields[k] for k in (2, 4, 6) if k in chunk_fields]
                found += [v for i, _, v in chunk_fields[3] if i in (9, 10, 11, 14)]
        return found

    moved = offsets(out)[len(offsets(base)) :]
    assert moved == [offset + delta for offset in offsets(extra)]
    # per row group: its offset; each of the 6 chunks' own and its data page's; the dictionary pages of the 5
    # columns that are not bool; and the 2 Bloom filters
    assert len(moved) == 2 * (1 + 6 * 2 + 5 + 2)
    ordinals = [{i: v for i, _, v in group}.get(7) for group in dict((i, v) for i, _, v in _footer(out)[0])[4][1]]
    assert ordinals in ([0, 1, 2, 3], [None] * 4)  # two row groups of 400 and 300 rows per file


def test_a_footer_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    pyarrow_file = write(tmp_path / "a.parquet", [table(1, 500)], **(PAGE_INDEX | OPTIONS[1] | OPTIONS[2]))
    duckdb_file = tmp_path / "b.parquet"
    with duckdb.connect() as con:
        con.sql(f"SELECT * FROM '{pyarrow_file}'").write_parquet(str(duckdb_file), compression="zstd")
    for path in (pyarrow_file, duckdb_file):
        meta, end = _footer(path)
        assert _write_struct(meta) == path.read_bytes()[end:-8]


def test_files_that_differ_in_schema_are_refused(tmp_path: Path) -> None:
    base = write(tmp_path / "base.parquet", [table(1, 10)])
    other = write(tmp_path / "other.parquet", [table(2, 10).drop_columns(["flag"])])
    required = table(2, 10).schema.set(5, pa.field("flag", pa.bool_(), nullable=False))
    nullable = write(tmp_path / "nullable.parquet", [table(2, 10).cast(required)])
    for extra in (other, nullable):
        with open(tmp_path / "out.parquet", "wb") as handle, pytest.raises(CannotAppend, match="schema|metadata"):
            append_parquet(base, extra, handle)


def test_an_appended_file_with_an_offset_index_is_refused(tmp_path: Path) -> None:
    base = write(tmp_path / "base.parquet", [table(1, 10)], **PAGE_INDEX)
    extra = write(tmp_path / "extra.parquet", [table(2, 10)], **PAGE_INDEX)
    with open(tmp_path / "out.parquet", "wb") as handle, pytest.raises(CannotAppend, match="offset index"):
        append_parquet(base, extra, handle)
    plain = write(tmp_path / "plain.parquet", [table(2, 10)])  # the base's own page index stays where it was
    out = appended(tmp_path, base, plain)
    assert pq.read_table(out).equals(pa.concat_tables([table(1, 10), table(2, 10)]))


def test_what_is_not_a_parquet_file_is_refused(tmp_path: Path) -> None:
    base = write(tmp_path / "base.parquet", [table(1, 10)])
    text = tmp_path / "notes.parquet"
    text.write_text("not a parquet file at all\n")
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(base.read_bytes()[:-20] + base.read_bytes()[-8:])
    nested = tmp_path / "nested.parquet"  # a footer of structs within structs, deeper than any recursion limit
    footer = bytes([0x1C]) * 100_000
    nested.write_bytes(b"PAR1" + footer + len(footer).to_bytes(4, "little") + b"PAR1")
    cut = tmp_path / "cut.parquet"  # a footer that ends inside a field
    footer = bytes([0x15])
    cut.write_bytes(b"PAR1" + footer + len(footer).to_bytes(4, "little") + b"PAR1")
    cases = ((text, "not a plain Parquet file"), (truncated, "does not decode|bytes after|Thrift"),
             (nested, "does not decode"), (cut, "does not decode"))  # fmt: skip
    for extra, message in cases:
        with open(tmp_path / "out.parquet", "wb") as handle, pytest.raises(CannotAppend, match=message):
            append_parquet(base, extra, handle)
