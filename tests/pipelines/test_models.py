"""SQL model unit tests as data (SQLMesh style): each `tests/pipelines/models/<model>.yaml` gives small input tables
and the expected output table of one model, run through the same runner as the snapshot (`databuild.sqlrun`, with
the colour pack's tables registered)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from databuild.sqlrun import connect, run_model

CASES = sorted((Path(__file__).parent / "models").glob("*.yaml"))
# Column types the models expect where a YAML value alone cannot say (e.g. an all-null column).
TYPES: dict[str, Any] = {
    "source_line": pl.Int64,
    "file_order": pl.Int32,
    "raw_id": pl.Int64,
    "output_id": pl.Int64,
    "tail_hash": pl.UInt64,
    "event_hash": pl.UInt64,
    "intent_hash": pl.UInt64,
    "calls": pl.Int64,
    "exports": pl.Int64,
    "n_calls": pl.Int64,
    "n_tools": pl.Int64,
    "exported": pl.Boolean,
    "used": pl.Boolean,
    "any_export": pl.Boolean,
    "is_object": pl.Boolean,
    "hash_collision": pl.Boolean,
    "ts": pl.String,
}


def input_frame(table: str, rows: list[dict[str, Any]], defaults: dict[str, Any]) -> pl.DataFrame:
    records = [defaults | row for row in rows]
    columns = list(dict.fromkeys(key for record in records for key in record))
    types = TYPES | ({"exported": pl.String} if table == "raw" else {})  # raw fields arrive as text
    schema = {column: types.get(column, pl.String) for column in columns}
    return pl.DataFrame([{c: r.get(c) for c in columns} for r in records], schema=schema)


def load_case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert case["model"] == path.stem
    return case


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_model(path: Path) -> None:
    case = load_case(path)
    con = connect()
    for table, rows in case["inputs"].items():
        frame = input_frame(table, rows, case.get("defaults", {}) if table == "raw" else {})
        if "ts" in frame.columns and table == "raw":  # raw.ts is a parsed instant
            frame = frame.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
        con.from_arrow(frame.to_arrow()).create(table)
    run_model(con, case["model"], **case.get("params", {}))
    for table, expected in case["expected"].items():
        columns = expected["columns"]
        got = con.table(table).pl().select(columns)
        want = pl.DataFrame(expected["rows"], schema=columns, orient="row")
        assert sorted(got.rows(), key=repr) == sorted(want.rows(), key=repr), (table, got, want)


def test_every_case_names_a_real_model() -> None:
    from databuild.resources import resource_dir

    models = {p.stem for p in resource_dir("sql").glob("*.sql")}
    assert CASES and {path.stem for path in CASES} <= models
