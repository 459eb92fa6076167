"""A damaged or foreign snapshot cache entry, of every kind, is ignored with one `warning:` and rebuilt; the build
equals a clean build (issue 23, item 2, and the README's cache section).

Damage here is what a bad disk or a stray write does: bytes changed inside a table at the same size, its Parquet
footer intact (so its size, rows and columns still match `entry.json`); a memo's number changed; a version's
quarantine file changed with its size and times put back. Foreign: an entry reached through a symbolic link.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from databuild.store import open_store
from tests.pipelines.incremental_days import snapshot
from tests.pipelines.test_snapshot_incremental import full_build, outcome


def damage_inside(path: Path, count: int = 200) -> None:
    """Invert up to `count` bytes of a Parquet file's data pages (after its leading magic, before its footer)."""
    data = bytearray(path.read_bytes())
    footer_length = struct.unpack("<I", data[-8:-4])[0]
    end = min(4 + count, len(data) - 8 - footer_length)
    assert end > 4, f"{path} has no data pages"
    for position in range(4, end):
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))
    assert len(data) == path.stat().st_size


def largest(folder: Path, pattern: str) -> Path:
    return max(folder.glob(pattern), key=lambda p: p.stat().st_size)


def damage_file_entry(store: Path) -> str:
    path = largest(store / "cache" / "snapshot" / "files", "*/*/candidates.parquet")
    damage_inside(path)
    return "candidates.parquet is damaged: its xxh3_128 checksum does not match"


def damage_context_entry(store: Path) -> str:
    path = largest(store / "cache" / "snapshot" / "contexts", "*/*/first_pairs.parquet")
    damage_inside(path)
    return "first_pairs.parquet is damaged: its xxh3_128 checksum does not match"


def damage_results_entry(store: Path) -> str:
    path = largest(store / "cache" / "snapshot" / "results", "*/*/rows.parquet")
    damage_inside(path)
    return "rows.parquet is damaged: its xxh3_128 checksum does not match"


def damage_quarantine_memo(store: Path) -> str:
    (memo,) = (store / "cache" / "snapshot" / "quarantines").glob("*.json")
    fields = json.loads(memo.read_text())
    memo.write_text(memo.read_text().replace(f'"rows": {fields["rows"]}', f'"rows": {fields["rows"] + 1}'))
    return "damaged: its checksum does not match"


def damage_memo_quarantine_file(store: Path) -> str:
    """The version's quarantine file the memo names, changed with its size and times put back."""
    (memo,) = (store / "cache" / "snapshot" / "quarantines").glob("*.json")
    path = store / "versions" / json.loads(memo.read_text())["version"] / "quarantine.parquet"
    times = path.stat()
    damage_inside(path, 40)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    return f"{path} is damaged: its xxh3_128 checksum does not match the memo's); removed it"


def damage_input_hashes(store: Path) -> str:
    """Day 1's sha256 in the memo swapped for day 2's: valid JSON and valid hex, a wrong hash."""
    path = open_store(store).input_hashes_path
    memo = json.loads(path.read_text())
    values = list(memo["sha256"].values())
    memo["sha256"] = dict(zip(memo["sha256"], [values[1], values[0], *values[2:]], strict=True))
    path.write_text(json.dumps(memo))
    return "input_hashes.json (damaged: its checksum does not match); hashing every input file"


def damage_table_checksums(store: Path) -> str:
    """One digit of a checksum in the memo of checked tables changed: valid JSON and valid hex, a wrong checksum."""
    path = open_store(store).table_checksums_path
    memo = json.loads(path.read_text())
    identity, checksum = next(iter(memo["xxh3_128"].items()))
    memo["xxh3_128"][identity] = ("0" if checksum[0] != "0" else "1") + checksum[1:]
    path.write_text(json.dumps(memo))
    return "table_checksums.json (damaged: its checksum does not match); checking every cached table"


DAMAGE: dict[str, Callable[[Path], str]] = {
    "files": damage_file_entry,
    "contexts": damage_context_entry,
    "results": damage_results_entry,
    "quarantines (memo)": damage_quarantine_memo,
    "quarantines (the version's file)": damage_memo_quarantine_file,
    "input_hashes.json": damage_input_hashes,
    "table_checksums.json": damage_table_checksums,
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_entry_is_ignored_with_one_warning_and_the_build_equals_a_clean_one(
    tmp_path: Path, days: list[Path], kind: str
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    problem = DAMAGE[kind](store)
    report = snapshot(store, days)  # the options of the first build: its results entry is the one to carry
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and problem in warnings[0], report["stderr"]
    assert outcome(store, report) == full_build(tmp_path, days, "clean")
    again = snapshot(store, days, "--seed", "2")  # rebuilt: the next build finds nothing wrong
    assert "warning" not in again["stderr"]
    assert outcome(store, again) == full_build(tmp_path, days, "clean-2", seed="2")


MEMOS = ("input_hashes.json", "table_checksums.json")


@pytest.mark.parametrize("kind", ["files", "contexts", "results", "quarantines", *MEMOS])
def test_a_foreign_entry_is_removed_as_a_link_and_rebuilt(tmp_path: Path, days: list[Path], kind: str) -> None:
    """An entry (or memo) that is a link to a copy outside the store: never read, the link removed, rebuilt."""
    store = tmp_path / "store"
    snapshot(store, days[:2])
    cache = store / "cache" / "snapshot"
    entry = cache / kind if kind in MEMOS else sorted((cache / kind).glob("*/*" if kind != "quarantines" else "*"))[-1]
    outside = tmp_path / "outside"
    shutil.move(entry, outside)
    entry.symlink_to(outside)
    report = snapshot(store, days, "--seed", "1")
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: removed the symbolic link {entry} -> {outside} from the store (databuild never "
                        f"deletes, moves or writes through a link; {outside} was left alone)"]  # fmt: skip
    assert outside.exists() and not entry.is_symlink()
    assert outcome(store, report) == full_build(tmp_path, days, "clean", seed="1")
