"""`databuild export`: a version's rows, sft or quarantine as Parquet / JSON Lines / CSV, read back with DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.packs.colour.reference import ROW_COLUMNS
from databuild.store import Store
from pipelines import export
from tests.eval_helpers import publish, truth_row
from tests.train_helpers import simulated_version

DUCKDB_TYPES = {"large_string": "VARCHAR", "string": "VARCHAR", "bool": "BOOLEAN", "int64": "BIGINT"}
READERS = {
    "parquet": "read_parquet('{path}')",
    "jsonl": "read_json('{path}'{columns})",
    "csv": "read_csv('{path}'{columns})",
}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    return simulated_version(tmp_path_factory.mktemp("export"), rows=400, intents=40, test_fraction=0.3)


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def version_table(store: Store, name: str, what: str, split: str) -> tuple[list[str], list[tuple], dict[str, str]]:
    """Columns, rows (in order) and DuckDB types of one split, read the contract's way (`load_from_disk`)."""
    if what == "quarantine":
        table = pq.read_table(store.version_dir(name) / "quarantine.parquet")
    else:
        table = datasets.load_from_disk(str(store.version_dir(name) / what))[split].data.table
    types = {field.name: DUCKDB_TYPES[str(field.type)] for field in table.schema}
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()], types


def duckdb_read(path: Path, file_format: str, schema: dict[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    """`SELECT * FROM` the file: auto-detected types, or the version's types when `schema` is given."""
    columns = ""
    if schema is not None:
        typed = ", ".join(f"'{name}': '{dtype}'" for name, dtype in schema.items())
        columns = ", columns={" + typed + "}"
        columns += ", header=true, allow_quoted_nulls=false" if file_format == "csv" else ""
    relation = duckdb.sql("SELECT * FROM " + READERS[file_format].format(path=path, columns=columns))
    assert relation is not None
    return relation.columns, relation.fetchall()


@pytest.mark.parametrize("file_format", ["parquet", "jsonl", "csv"])
def test_rows_read_back_with_duckdb_as_they_are(simulated: tuple[Store, str], tmp_path: Path, file_format: str) -> None:
    store, name = simulated
    out = tmp_path / "out"
    result = invoke("export", name, "--store", store.root, "--format", file_format, "-o", out)
    assert result.exit_code == 0, result.output
    manifest = store.manifest(name)
    for split in ("train", "test"):
        path = out / f"{split}.{file_format}"
        assert f"wrote {path} ({manifest['used_all'][split]['rows']} rows)" in result.stdout
        columns, rows, _ = version_table(store, name, "rows", split)
        assert columns[:3] == ["intent", "intent_text", "adjust"] and len(rows) == manifest["used_all"][split]["rows"]
        assert duckdb_read(path, file_format) == (columns, rows)  # plain `SELECT * FROM 'file'`
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.{file_format}" for s in ("test", "train"))


@pytest.mark.parametrize("file_format", ["parquet", "jsonl", "csv"])
def test_sft_and_quarantine_read_back_with_duckdb(
    simulated: tuple[Store, str], tmp_path: Path, file_format: str
) -> None:
    store, name = simulated
    result = invoke("export", name, "--store", store.root, "--format", file_format, "--output", tmp_path / "sft",
                    "--what", "sft")  # fmt: skip
    assert result.exit_code == 0, result.output
    for split in ("train", "test"):
        columns, rows, schema = version_table(store, name, "sft", split)
        assert columns == ["intent", "tool", "prompt", "completion"]
        assert len(rows) == 3 * store.manifest(name)["used_all"][split]["rows"]
        assert duckdb_read(tmp_path / "sft" / f"{split}.{file_format}", file_format, schema) == (columns, rows)

    result = invoke("export", name, "--store", store.root, "--format", file_format, "--output", tmp_path / "q",
                    "--what", "quarantine")  # fmt: skip
    assert result.exit_code == 0, result.output
    [written] = list((tmp_path / "q").iterdir())
    assert written.name == f"quarantine.{file_format}"
    columns, rows, schema = version_table(store, name, "quarantine", "")
    quarantined = sum(store.manifest(name)["accounting"]["quarantined"].values())
    assert columns[:3] == ["source_file", "source_line", "reason"] and len(rows) == quarantined > 0
    # typed as in the version: DuckDB would otherwise read timestamps or the 0/1 of `exported` as its own types
    assert duckdb_read(written, file_format, schema) == (columns, rows)


def test_handmade_rows_with_nulls_and_quotes(tmp_path: Path) -> None:
    rows = [
        truth_row('say "cheese", please', adjust={"contrast": 10}, split="train", n_calls=3),
        truth_row("golden hour", filter={"name": "north", "intensity": 50}, split="train"),
    ]
    rows[1] |= {"source": "augmented", "augmented_from": 'say "cheese", please', "iteration": 2}
    store, name = publish(tmp_path / "store", rows)
    for file_format in export.EXPORT_FORMATS:
        summary = export.export_version(store, name, "rows", file_format, tmp_path / file_format)
        assert [(f["name"], f["rows"]) for f in summary["files"]] == [("train", 2), ("test", 0)]
        columns, read = duckdb_read(tmp_path / file_format / f"train.{file_format}", file_format)
        assert columns[-3:] == ["source", "augmented_from", "iteration"]
        by_intent = {row[0]: dict(zip(columns, row, strict=True)) for row in read}
        assert list(by_intent) == ["golden hour", 'say "cheese", please']  # the version's order: by intent
        assert by_intent['say "cheese", please']["augmented_from"] is None
        assert by_intent["golden hour"]["augmented_from"] == 'say "cheese", please'
        assert by_intent["golden hour"]["iteration"] == 2 and by_intent["golden hour"]["filter_used"] is True
        assert by_intent['say "cheese", please']["adjust"].startswith('{"exposure":0,"contrast":10,')
    # Polars and pandas open them as they are too
    assert pl.read_parquet(tmp_path / "parquet" / "train.parquet")["n_calls"].to_list() == [1, 3]
    assert pl.read_ndjson(tmp_path / "jsonl" / "train.jsonl")["intent"].to_list()[1] == 'say "cheese", please'
    assert pl.read_csv(tmp_path / "csv" / "test.csv").columns == list(ROW_COLUMNS)


def test_a_failed_export_leaves_the_old_files(
    simulated: tuple[Store, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, name = simulated
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.csv").write_text("old train\n")
    (out / "test.csv").write_text("old test\n")
    calls: list[Path] = []
    original = export._write

    def fail_second(frame: pl.DataFrame, path: Path, file_format: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("No space left on device")
        original(frame, path, file_format)

    monkeypatch.setattr(export, "_write", fail_second)
    result = invoke("export", name, "--store", store.root, "--format", "csv", "-o", out)
    assert result.exit_code == 1
    assert result.output == "Error: OSError: No space left on device (run with --debug for the traceback)\n"
    assert sorted(p.name for p in out.iterdir()) == ["test.csv", "train.csv"]  # no partial file left behind
    assert (out / "train.csv").read_text() == "old train\n" and (out / "test.csv").read_text() == "old test\n"

    monkeypatch.setattr(export, "_write", original)
    assert invoke("export", name, "--store", store.root, "--format", "csv", "-o", out).exit_code == 0
    assert (out / "train.csv").read_text().startswith("intent,intent_text,adjust,")  # replaced whole


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["v1", "--format", "xlsx", "-o", "OUT"], "--format must be one of parquet, jsonl, csv, not 'xlsx'"),
        (["v1", "--format", "csv", "-o", "OUT", "--what", "rowz"],
         "--what must be one of rows, sft, quarantine, not 'rowz'"),
        (["v1", "-o", "OUT"], "--format is required (parquet, jsonl or csv)"),
        (["v1", "--format", "csv"], "--output is required (the directory to write the files into)"),
        (["v9", "--format", "csv", "-o", "OUT"], "no version 'v9' in store STORE (have: v1)"),
        (["v1", "--format", "csv", "-o", "FILE"], "--output FILE is a file, not a directory"),
    ],
)  # fmt: skip
def test_user_errors(simulated: tuple[Store, str], tmp_path: Path, args: list[str], message: str) -> None:
    store, _ = simulated
    (tmp_path / "file").write_text("x")
    paths = {"OUT": str(tmp_path / "out"), "FILE": str(tmp_path / "file"), "STORE": str(store.root)}
    args = [paths.get(a, a) for a in args]
    for placeholder, value in paths.items():
        message = message.replace(placeholder, value)
    result = invoke("export", *args, "--store", store.root)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_a_version_without_quarantine(tmp_path: Path) -> None:
    store, name = publish(tmp_path / "store", [truth_row("golden hour", split="train")])
    result = invoke(
        "export", name, "--store", store.root, "--format", "csv", "-o", tmp_path / "q", "--what", "quarantine"
    )
    assert result.exit_code == 1
    assert result.output == "Error: version v1 has no quarantine.parquet (only snapshots of logs have one)\n"
    assert not (tmp_path / "q").exists()
