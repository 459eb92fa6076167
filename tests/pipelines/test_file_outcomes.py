"""Errors and warnings name the input file at fault, each with its own breakdown (issue 23, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from databuild.cli import app
from tests.pipelines.incremental_days import request, write_jsonl

runner = CliRunner()


def junk(path: Path) -> Path:
    """Two records without the other required fields: missing_field 2."""
    path.write_text('{"event_id": "a"}\n{"event_id": "b"}\n')
    return path


def bad_types(path: Path, rows: int) -> Path:
    """`exported` as text, not a boolean: bad_type on every row."""
    text = ["x"] * rows
    frame = {
        "event_id": [f"e{i}" for i in range(rows)],
        "request_id": text,
        "ts": ["2024-01-01T00:00:00Z"] * rows,
        "intent": text,
        "tool": ["adjust"] * rows,
        "response": ["JSON: {}"] * rows,
        "exported": ["yes"] * rows,
    }
    pl.DataFrame(frame).write_parquet(path)
    return path


def snapshot(store: Path, *logs: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["snapshot", "--store", str(store), *[a for p in logs for a in ("--logs", str(p))]])
    return result.exit_code, result.stdout, result.stderr


def test_no_valid_rows_names_each_file_with_its_breakdown(tmp_path: Path) -> None:
    code, _, err = snapshot(tmp_path / "store", junk(tmp_path / "junk.jsonl"), bad_types(tmp_path / "a.parquet", 600))
    assert code == 1
    assert err == "Error: no valid rows: junk.jsonl: missing_field 2 (2 rows); a.parquet: bad_type 600 (600 rows)\n"


def test_files_of_one_name_are_named_by_their_path(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first, second = junk(tmp_path / "x" / "day.jsonl"), junk(tmp_path / "y" / "day.jsonl")
    code, _, err = snapshot(tmp_path / "store", first, second)
    assert code == 1
    assert err == f"Error: no valid rows: {first}: missing_field 2 (2 rows); {second}: missing_field 2 (2 rows)\n"


def test_a_successful_build_warns_once_per_file_with_nothing_valid(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", request("g1", "r1", "golden hour", True, 10))  # 3 valid rows
    repeat = tmp_path / "repeat.jsonl"  # the same events again: every row repeats one of good.jsonl
    repeat.write_bytes(good.read_bytes())
    store = tmp_path / "store"
    code, _, err = snapshot(store, good, junk(tmp_path / "junk.jsonl"), repeat, bad_types(tmp_path / "a.parquet", 5))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: no valid rows in junk.jsonl: missing_field 2 (2 rows)",
        "warning: no valid rows in repeat.jsonl: duplicate_event 3 (3 rows)",
        "warning: no valid rows in a.parquet: bad_type 5 (5 rows)",
    ]
    manifest = json.loads((store / "versions" / "v1" / "manifest.json").read_text())
    assert manifest["accounting"]["quarantined"] == {"missing_field": 2, "bad_type": 5, "duplicate_event": 3}
