"""The version's `rows/` and `sft/` folders, written with PyArrow alone, are the files `datasets`' own
`DatasetDict.save_to_disk` writes for the same frames, byte for byte, and they load back equal."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import datasets
import polars as pl
import pyarrow as pa
import pytest

from databuild.contracts import SPLITS
from pipelines.dataset_files import VALUE_DTYPES, SplitTable, features, write_dataset_dict
from pipelines.emit import _save_dataset_dict, _to_dataset_dict

ROW_COLUMNS = ["intent", "adjust", "adjust_used", "n_calls", "augmented_from"]
CONTENT = "sha256:" + "ab" * 32 + "/rows"


def save_with_datasets(frame: pl.DataFrame, columns: list[str], content: str, path: Path) -> dict[str, Any]:
    """What the version's writer did before: `datasets` objects and their own `save_to_disk`, and the card entry
    read from them."""
    splits = {}
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split).select(columns)
        split_fingerprint = hashlib.sha256(f"{content}/{split}".encode()).hexdigest()[:16]
        splits[split] = datasets.Dataset(part.to_arrow(), fingerprint=split_fingerprint)
    dataset_dict = datasets.DatasetDict(splits)
    datasets.disable_progress_bars()
    dataset_dict.save_to_disk(str(path), num_shards={split: 1 for split in SPLITS})
    return {
        "features": [(column, feature.dtype) for column, feature in dataset_dict["train"].features.items()],
        "splits": {
            split: {
                "num_examples": dataset_dict[split].num_rows,
                "num_bytes": dataset_dict[split].data.nbytes,
                "file_bytes": (path / split / "data-00000-of-00001.arrow").stat().st_size,
            }
            for split in SPLITS
        },
    }


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_as_datasets(frame: pl.DataFrame, columns: list[str], tmp_path: Path) -> None:
    theirs = save_with_datasets(frame, columns, CONTENT, tmp_path / "theirs")
    ours = _save_dataset_dict(_to_dataset_dict(frame, columns, CONTENT), tmp_path / "ours")
    assert ours == theirs
    their_files, our_files = files(tmp_path / "theirs"), files(tmp_path / "ours")
    assert sorted(our_files) == [
        "dataset_dict.json",
        "test/data-00000-of-00001.arrow",
        "test/dataset_info.json",
        "test/state.json",
        "train/data-00000-of-00001.arrow",
        "train/dataset_info.json",
        "train/state.json",
    ]
    for name, content in their_files.items():
        assert our_files[name] == content, name
    loaded = datasets.load_from_disk(str(tmp_path / "ours"))
    for split in SPLITS:
        expected = frame.filter(pl.col("split") == split).select(columns)
        assert loaded[split].to_list() == expected.to_dicts()


def rows_frame(n_train: int, n_test: int) -> pl.DataFrame:
    """Rows as a version holds them: strings (some non-ASCII), nulls, booleans and integers."""
    n = n_train + n_test
    return pl.DataFrame(
        {
            "intent": [f"intent {i:05d} é→{i % 7}" for i in range(n)],
            "adjust": [None if i % 5 == 0 else '{"brightness":' + str(i % 100) + "}" for i in range(n)],
            "adjust_used": [i % 3 == 0 for i in range(n)],
            "n_calls": list(range(n)),
            "augmented_from": [None if i % 11 else f"intent {i - 1:05d}" for i in range(n)],
            "split": ["train"] * n_train + ["test"] * n_test,
        },
        schema={
            "intent": pl.String,
            "adjust": pl.String,
            "adjust_used": pl.Boolean,
            "n_calls": pl.Int64,
            "augmented_from": pl.String,
            "split": pl.String,
        },
    )


def test_more_than_one_record_batch_and_nulls(tmp_path: Path) -> None:
    """2,500 train rows: three record batches (1,000, 1,000, 500), as `save_to_disk` cuts them."""
    frame = rows_frame(2500, 40)
    assert_same_as_datasets(frame, ROW_COLUMNS, tmp_path)
    reader = pa.ipc.open_stream(tmp_path / "ours" / "train" / "data-00000-of-00001.arrow")
    assert [batch.num_rows for batch in reader] == [1000, 1000, 500]


def test_an_empty_split(tmp_path: Path) -> None:
    assert_same_as_datasets(rows_frame(3, 0), ROW_COLUMNS, tmp_path)


def test_a_frame_of_several_chunks(tmp_path: Path) -> None:
    frame = pl.concat([rows_frame(700, 10), rows_frame(600, 5)], rechunk=False)
    assert frame.n_chunks() == 2
    assert_same_as_datasets(frame, ROW_COLUMNS, tmp_path)


def test_rows_over_100_kb_make_smaller_batches(tmp_path: Path) -> None:
    """`datasets` keeps a record batch under 100 MB: three rows of 40 MB go out as batches of 2 and 1."""
    big = "x" * (40 * 10**6)
    frame = pl.DataFrame({"intent": ["a", "b", "c", "d"], "prompt": [big, big, big, "short"]}).with_columns(
        split=pl.Series(["train", "train", "train", "test"])
    )
    assert_same_as_datasets(frame, ["intent", "prompt"], tmp_path)
    reader = pa.ipc.open_stream(tmp_path / "ours" / "train" / "data-00000-of-00001.arrow")
    assert [batch.num_rows for batch in reader] == [2, 1]


def test_a_column_type_without_a_known_layout_is_refused(tmp_path: Path) -> None:
    table = pa.table({"when": pa.array([0], pa.timestamp("s"))})
    with pytest.raises(TypeError, match="'when'.*timestamp"):
        write_dataset_dict({"train": SplitTable(table, "0" * 16)}, tmp_path / "rows")


def sample_values(arrow_type: pa.DataType) -> list[Any]:
    if pa.types.is_boolean(arrow_type):
        return [None, True, False]
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ["a", None, "ü"]
    return [None, 1, 0]


def test_every_supported_column_type_as_datasets_writes_it(tmp_path: Path) -> None:
    """Each Arrow type the writer knows (`VALUE_DTYPES`), with a null: the same files as `datasets`' own."""
    columns = {
        f"c_{dtype}": pa.array(sample_values(arrow_type), arrow_type) for arrow_type, dtype in VALUE_DTYPES.items()
    }
    tables = {"train": pa.table(columns), "test": pa.table(columns).slice(0, 0)}
    write_dataset_dict({split: SplitTable(table, split * 4) for split, table in tables.items()}, tmp_path / "ours")
    theirs = datasets.DatasetDict(
        {split: datasets.Dataset(table, fingerprint=split * 4) for split, table in tables.items()}
    )
    theirs.save_to_disk(str(tmp_path / "theirs"), num_shards={split: 1 for split in tables})
    assert files(tmp_path / "ours") == files(tmp_path / "theirs")
    assert features(tables["train"].schema) == theirs["train"].features.to_dict()
