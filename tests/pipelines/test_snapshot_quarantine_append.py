"""A daily build appends its new files' quarantine rows to a copy of the last version's quarantine file
(pipelines/quarantine_base.py, pipelines/parquet_append.py) when that file holds the build's first files, and the
file is the one a full rebuild writes: the same rows in the same order. When it cannot (files out of order, a
damaged memo, a changed file, --full), the file is written whole, with the same result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from databuild.store import open_store
from pipelines.quarantine_base import memo_checksum
from tests.pipelines.incremental_days import snapshot


@pytest.fixture
def appends(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The base files the builds appended to."""
    import pipelines.snapshot_quarantine as module

    seen: list[Path] = []
    real = module.append_parquet

    def spy(base: Path, extra: Path, out: Any) -> int:
        seen.append(base)
        return real(base, extra, out)

    monkeypatch.setattr(module, "append_parquet", spy)
    return seen


def quarantine(store: Path, version: str) -> pl.DataFrame:
    return pl.read_parquet(store / "versions" / version / "quarantine.parquet")  # in the file's order


def full_quarantine(tmp_path: Path, logs: list[Path], *args: str) -> pl.DataFrame:
    store = tmp_path / f"full-{len(list(tmp_path.iterdir()))}"
    return quarantine(store, snapshot(store, logs, "--full", *args)["version"])


def assert_written_whole(
    tmp_path: Path, store: Path, logs: list[Path], report: dict[str, Any], appends: list[Path]
) -> None:
    """The build appended to nothing, and its quarantine is the one a full rebuild writes."""
    assert appends == []
    assert quarantine(store, report["version"]).equals(full_quarantine(tmp_path, logs))


def lines(frame: pl.DataFrame) -> list[tuple[str, int, str]]:
    return [(Path(f).name, n, r) for f, n, r in frame.select("source_file", "source_line", "reason").rows()]


def test_each_new_day_is_appended_to_the_last_versions_quarantine(
    tmp_path: Path, days: list[Path], appends: list[Path]
) -> None:
    store = tmp_path / "store"
    for n in (1, 2, 3):
        snapshot(store, days[:n])
    assert appends == [store / "versions" / v / "quarantine.parquet" for v in ("v1", "v2")]
    # by hand (incremental_days.py): day1 has no rejected row; day2 repeats day1's g1a and
    # c1s (lines 1, 2) and its own g6a (line 10); day3 repeats day2's g4f (line 4)
    expected = [("day2.jsonl", 1, "duplicate_event"), ("day2.jsonl", 2, "duplicate_event"),
                ("day2.jsonl", 10, "duplicate_event"), ("day3.jsonl", 4, "duplicate_event")]  # fmt: skip
    assert lines(quarantine(store, "v3")) == expected
    assert quarantine(store, "v3").equals(full_quarantine(tmp_path, days))


def test_a_new_file_that_sorts_before_the_others_is_written_whole(
    tmp_path: Path, days: list[Path], appends: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, [days[1]])
    report = snapshot(store, [days[1], days[0]])  # day1.jsonl sorts before day2.jsonl: its rows come first
    # day2 first in --logs: day1 repeats day2's g1a and c1s (lines 1, 8); day2 keeps its own reasons: c1s's broken
    # JSON (line 2) and its second g6a (line 10)
    assert lines(quarantine(store, report["version"])) == [
        ("day1.jsonl", 1, "duplicate_event"),
        ("day1.jsonl", 8, "duplicate_event"),
        ("day2.jsonl", 2, "invalid_json"),
        ("day2.jsonl", 10, "duplicate_event"),
    ]
    assert_written_whole(tmp_path, store, [days[1], days[0]], report, appends)


def test_a_damaged_memo_is_ignored_with_a_warning(tmp_path: Path, days: list[Path], appends: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    memos = sorted(open_store(store).quarantine_memo_dir.glob("*.json"))
    assert len(memos) == 1
    memos[0].write_text('{"format": 1, "version": ')
    report = snapshot(store, days)
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ignoring snapshot cache memo" in warnings[0]
    assert_written_whole(tmp_path, store, days, report, appends)


def test_a_base_file_changed_since_its_memo_is_not_appended_to(
    tmp_path: Path, days: list[Path], appends: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    base = store / "versions" / "v1" / "quarantine.parquet"
    quarantine(store, "v1").head(1).write_parquet(base)  # someone rewrote the version's file: one row of two
    report = snapshot(store, days)
    assert "warning" not in report["stderr"]
    assert_written_whole(tmp_path, store, days, report, appends)


def test_full_writes_the_whole_file(tmp_path: Path, days: list[Path], appends: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    report = snapshot(store, days, "--full")
    assert_written_whole(tmp_path, store, days, report, appends)
    assert lines(quarantine(store, report["version"]))[-1] == ("day3.jsonl", 4, "duplicate_event")


def test_an_unchanged_build_of_other_paths_leaves_no_memo_to_append_to(
    tmp_path: Path, days: list[Path], appends: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])  # v1, its quarantine names logs/day2.jsonl
    other = tmp_path / "other"
    other.mkdir()
    copies = [Path(shutil.copy(day, other / day.name)) for day in days]
    assert snapshot(store, copies[:2])["unchanged"]  # the same rows: v1 again, whose file names logs/, not other/
    report = snapshot(store, copies)
    assert {Path(f).parent.name for f in quarantine(store, report["version"])["source_file"]} == {"other"}
    assert_written_whole(tmp_path, store, copies, report, appends)


def test_a_memo_naming_no_version_of_the_store_is_not_used(
    tmp_path: Path, days: list[Path], appends: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    (memo,) = open_store(store).quarantine_memo_dir.glob("*.json")
    fields = {**json.loads(memo.read_text()), "version": "../../elsewhere"}
    del fields["memo"]
    memo.write_text(json.dumps({**fields, "memo": memo_checksum(fields)}))  # consistent, as if written so
    report = snapshot(store, days)
    assert "warning" not in report["stderr"]
    assert_written_whole(tmp_path, store, days, report, appends)
