"""A version's `rows/` and `sft/` configs on disk, in the exact layout of `datasets`' `DatasetDict.save_to_disk`
with one shard per split, written with PyArrow alone (`import datasets` costs a third of a second: pandas,
huggingface_hub, fsspec; a small build paid it on every version).

The files are those `datasets` 5.x writes, byte for byte (tests/pipelines/test_dataset_files.py writes the same
frames both ways and compares them), so `datasets.load_from_disk` and `load_dataset` read them as before:

    <config>/dataset_dict.json              {"splits": [...]}
    <config>/<split>/data-00000-of-00001.arrow   Arrow IPC stream; schema metadata `huggingface` = the features
    <config>/<split>/dataset_info.json      the features and the info fields `datasets` always records
    <config>/<split>/state.json             the split's fingerprint and its (default) format

The rows go out in record batches as `save_to_disk` cuts them: at most 1,000 rows, fewer where rows average over
100 kB (`datasets`' row-group bound of 100 MB a batch). Only the column types a version holds are supported
(strings, integers, floats, booleans); any other type raises rather than write a layout `datasets` might not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

MAX_BATCH_ROWS = 1000  # datasets.config.DEFAULT_MAX_BATCH_SIZE
MAX_BATCH_BYTES = 100 * 10**6  # datasets.config.MAX_ROW_GROUP_SIZE ("100MB")

# Arrow type -> the `dtype` of a `datasets.Value` (datasets.features.features._arrow_to_datasets_dtype)
VALUE_DTYPES = {
    pa.bool_(): "bool",
    pa.int8(): "int8",
    pa.int16(): "int16",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.uint8(): "uint8",
    pa.uint16(): "uint16",
    pa.uint32(): "uint32",
    pa.uint64(): "uint64",
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.string(): "string",
    pa.large_string(): "large_string",
}


@dataclass(frozen=True)
class SplitTable:
    """One split's rows and the fingerprint `datasets` records for it in `state.json`."""

    table: pa.Table
    fingerprint: str


def value_dtype(column: str, arrow_type: pa.DataType) -> str:
    try:
        return VALUE_DTYPES[arrow_type]
    except KeyError:
        raise TypeError(f"column {column!r}: no dataset file layout for Arrow type {arrow_type}") from None


def features(schema: pa.Schema) -> dict[str, dict[str, str]]:
    """The `datasets` features of a table, as `datasets` serialises them (column order kept)."""
    return {field.name: {"dtype": value_dtype(field.name, field.type), "_type": "Value"} for field in schema}


def writer_batch_rows(table: pa.Table) -> int:
    """The rows per record batch `save_to_disk` writes (datasets.arrow_writer.get_writer_batch_size_from_data_size)."""
    if table.nbytes <= 0:
        return MAX_BATCH_ROWS
    return min(MAX_BATCH_ROWS, max(1, table.num_rows * MAX_BATCH_BYTES // table.nbytes))


def _write_json(path: Path, value: Any, **options: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, **options)


def _write_arrow(table: pa.Table, path: Path, split_features: dict[str, dict[str, str]]) -> None:
    metadata = {"huggingface": json.dumps({"info": {"features": split_features}})}
    schema = pa.schema([pa.field(field.name, field.type) for field in table.schema], metadata=metadata)
    step = writer_batch_rows(table)
    with open(path, "wb") as sink, pa.RecordBatchStreamWriter(sink, schema) as writer:
        for start in range(0, table.num_rows, step):
            writer.write_table(table.slice(start, step).combine_chunks(), MAX_BATCH_ROWS)


def write_split(split: SplitTable, path: Path) -> dict[str, dict[str, str]]:
    """One split's folder; returns its features."""
    split_features = features(split.table.schema)
    path.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "_data_files": [{"filename": "data-00000-of-00001.arrow"}],
        "_fingerprint": split.fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": None,
    }
    _write_arrow(split.table, path / "data-00000-of-00001.arrow", split_features)
    _write_json(path / "state.json", state, indent=2, sort_keys=True)
    info = {"citation": "", "description": "", "features": split_features, "homepage": "", "license": ""}
    _write_json(path / "dataset_info.json", info, indent=2)
    return split_features


def write_dataset_dict(splits: dict[str, SplitTable], path: Path) -> dict[str, dict[str, str]]:
    """A config folder (`DatasetDict.save_to_disk(path, num_shards={split: 1, ...})`); returns its features (those
    of its first split: every split of a config has the same columns)."""
    path.mkdir(parents=True, exist_ok=True)
    _write_json(path / "dataset_dict.json", {"splits": list(splits)})
    written = [write_split(split, path / name) for name, split in splits.items()]
    return written[0]
