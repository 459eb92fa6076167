"""The memo of cache tables already checked (`cache/snapshot/table_checksums.json`): a daily build reads whole only
the tables that are new to it or were written to since, never trusts a stale or damaged memo, and builds what a
clean build builds (issue 23: the cost of the integrity check on a daily build)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import pipelines.snapshot_cache as snapshot_cache
from databuild.store import open_store
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


def test_a_table_written_to_after_its_check_is_read_again_and_its_damage_found(
    tmp_path: Path, days: list[Path], read_whole: list[Path]
) -> None:
    """Bytes changed at the same size with the modification time put back: the change time still moves."""
    store = tmp_path / "store"
    snapshot(store, days[:1])
    snapshot(store, days[:2])  # day 1's tables are now in the memo
    (candidates,) = [path for path in tables(entries(store)) if path.name == "candidates.parquet"
                     and path in read_whole]  # fmt: skip
    times = candidates.stat()
    damage_inside(candidates)
    os.utime(candidates, ns=(times.st_atime_ns, times.st_mtime_ns))
    read_whole.clear()
    report = snapshot(store, days, "--seed", "1")
    assert candidates in read_whole
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "candidates.parquet is damaged: its xxh3_128 checksum does not match" in warnings[0]
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
