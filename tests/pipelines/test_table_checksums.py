"""The memo of cache tables already checked (`cache/snapshot/table_checksums.json`): a daily build reads whole only
the tables that are new to it or were written to since, never trusts a stale or damaged memo, and builds what a
clean build builds (issue 23: the cost of the integrity check on a daily build)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import pipelines.input_hashes as input_hashes
import pipelines.snapshot_cache as snapshot_cache
from databuild.store import open_store
from pipelines.input_hashes import file_identity
from tests.pipelines.incremental_days import snapshot
from tests.pipelines.test_cache_damage import damage_inside
from tests.pipelines.test_snapshot_incremental import full_build, outcome


@pytest.fixture
def read_whole(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the memo read whole to check them, in the order asked."""
    paths: list[Path] = []
    real = snapshot_cache.TableChecksums._digest

    def counting(self: snapshot_cache.TableChecksums, path: Path) -> str:
        paths.append(path)
        return real(self, path)

    monkeypatch.setattr(snapshot_cache.TableChecksums, "_digest", counting)
    return paths


def entries(store: Path) -> set[Path]:
    """Every file and context entry's folder."""
    cache = store / "cache" / "snapshot"
    return {folder for kind in ("files", "contexts") for folder in (cache / kind).glob("*/*")}


def tables(folders: set[Path]) -> set[Path]:
    return {path for folder in folders for path in folder.glob("*.parquet")}


def test_a_daily_build_reads_whole_only_the_tables_written_since_the_last_check(
    tmp_path: Path, days: list[Path], read_whole: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    day1 = entries(store)
    snapshot(store, days[:2])  # checks day 1's entries: each table read whole once
    day2 = entries(store) - day1
    assert len(day1) == 2 and len(day2) == 2  # a file entry and a context entry each
    assert tables(day1) <= set(read_whole)
    read_whole.clear()
    report = snapshot(store, days, "--seed", "1")
    checked = set(read_whole)
    assert not checked & tables(day1)  # unchanged since they were checked: not read again
    assert tables(day2) <= checked  # written by the last build, checked now for the first time
    assert "warning" not in report["stderr"]
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")


@pytest.mark.parametrize(("days_ago", "read_again"), [(snapshot_cache.RECHECK_DAYS - 1, False),
                                                       (snapshot_cache.RECHECK_DAYS, True)])  # fmt: skip
def test_a_table_checked_a_week_ago_is_read_whole_again(
    tmp_path: Path, days: list[Path], read_whole: list[Path], days_ago: int, read_again: bool
) -> None:
    """Damage beneath the file system moves no time: every table is read whole again a week after its last check."""
    store = tmp_path / "store"
    snapshot(store, days[:1])
    snapshot(store, days[:2])
    day1 = {path for path in read_whole if "cache" in path.parts}
    memo_path = open_store(store).table_checksums_path
    memo = json.loads(memo_path.read_text())
    today = int(time.time() // 86400)
    memo["xxh3_128"] = {key: f"{value.split(':')[0]}:{today - days_ago}" for key, value in memo["xxh3_128"].items()}
    memo["checksum"] = input_hashes._checksum(memo["xxh3_128"])
    memo_path.write_text(json.dumps(memo))
    read_whole.clear()
    report = snapshot(store, days, "--seed", "1")
    assert day1 and (day1 <= set(read_whole)) is read_again and bool(day1 & set(read_whole)) is read_again
    assert "warning" not in report["stderr"]
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")


@pytest.mark.parametrize("table", ["candidates.parquet", "first_pairs.parquet"])  # a file entry's, a context's
def test_a_table_written_to_after_its_check_is_read_again_and_its_damage_found(
    tmp_path: Path, days: list[Path], read_whole: list[Path], table: str
) -> None:
    """Bytes changed at the same size with the modification time put back: the change time still moves."""
    store = tmp_path / "store"
    snapshot(store, days[:1])
    snapshot(store, days[:2])  # day 1's tables are now in the memo
    (damaged,) = [path for path in read_whole if path.name == table]
    times = damaged.stat()
    damage_inside(damaged)
    os.utime(damaged, ns=(times.st_atime_ns, times.st_mtime_ns))
    read_whole.clear()
    report = snapshot(store, days, "--seed", "1")
    assert damaged in read_whole
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"{table} is damaged: its xxh3_128 checksum does not match" in warnings[0]
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")


def test_damage_the_memo_cannot_see_is_found_when_the_table_fails_to_read(
    tmp_path: Path, days: list[Path], read_whole: list[Path]
) -> None:
    """A disk's bit flip beneath the file system moves no time: the memo still vouches for the table. Simulated
    here by giving the memo the damaged file's new identity with its old checksum. The table fails to read, and
    the build checks every table again: the damaged entry is ignored with one warning and rebuilt."""
    store = tmp_path / "store"
    snapshot(store, days[:1])
    snapshot(store, days[:2])
    (damaged,) = [path for path in read_whole if path.name == "candidates.parquet"]
    memo_path = open_store(store).table_checksums_path
    before = file_identity(damaged.lstat())
    damage_inside(damaged)
    memo = json.loads(memo_path.read_text())
    memo["xxh3_128"] = {file_identity(damaged.lstat()) if key == before else key: value
                        for key, value in memo["xxh3_128"].items()}  # fmt: skip
    memo["checksum"] = input_hashes._checksum(memo["xxh3_128"])
    memo_path.write_text(json.dumps(memo))
    read_whole.clear()
    report = snapshot(store, days, "--seed", "1")
    assert damaged in read_whole  # read whole by the second attempt
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "candidates.parquet is damaged" in warnings[0], report["stderr"]
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")
    again = snapshot(store, days, "--seed", "2")  # the memo was written anew: nothing wrong is vouched for
    assert "warning" not in again["stderr"]


@pytest.mark.parametrize("memo", ["table_checksums.json", "input_hashes.json"])
def test_a_folder_where_a_memo_belongs_is_removed_with_one_warning(tmp_path: Path, days: list[Path], memo: str) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    path = store / "cache" / "snapshot" / memo
    path.unlink()
    (path / "inside").mkdir(parents=True)
    report = snapshot(store, days, "--seed", "1")
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: removed {path} (a folder, where a memo file belongs); it is written anew"]
    assert path.is_file() and json.loads(path.read_text())["format"] == 2
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")


def test_a_moved_or_copied_store_checks_every_table_again(
    tmp_path: Path, days: list[Path], read_whole: list[Path]
) -> None:
    """A copy's files have other inodes and change times: nothing the memo knows applies to them."""
    store = tmp_path / "store"
    snapshot(store, days[:2])
    snapshot(store, days[:2], "--seed", "1")  # every entry checked and in the memo
    copy = tmp_path / "copy"
    shutil.copytree(store, copy, symlinks=True)  # the times kept, as `cp -a` keeps them
    read_whole.clear()
    snapshot(copy, days, "--seed", "2")
    assert tables(entries(store)) and {p.name for p in read_whole} >= {"candidates.parquet", "events.parquet"}
    assert {copy / p.relative_to(store) for p in tables(entries(store))} <= set(read_whole)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"format": 2, "xxh3_128": {"1:2:3:4:5": "abc"}, "checksum": "x"}', "damaged"],
)
def test_a_damaged_memo_is_ignored_with_one_warning_and_every_table_checked(
    tmp_path: Path, days: list[Path], read_whole: list[Path], content: str
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    snapshot(store, days[:2], "--seed", "1")
    memo = open_store(store).table_checksums_path
    if content == "damaged":  # valid JSON, a valid checksum's form, one digit changed
        written = json.loads(memo.read_text())
        identity, checksum = next(iter(written["xxh3_128"].items()))
        written["xxh3_128"][identity] = ("0" if checksum[0] != "0" else "1") + checksum[1:]
        memo.write_text(json.dumps(written))
        expected = "(damaged: its checksum does not match); checking every cached table"
    else:
        memo.write_text(content)
        expected = "; checking every cached table"
    cached = tables(entries(store))
    read_whole.clear()
    report = snapshot(store, days, "--seed", "2")
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "table_checksums.json" in warnings[0] and expected in warnings[0], warnings
    assert cached <= set(read_whole)  # the memo unused: every table read whole
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="2")
    assert json.loads(memo.read_text())["format"] == 2  # written anew
