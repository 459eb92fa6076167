"""Incremental snapshots: a build that reuses the per-file cache equals a full rebuild, whatever changed.

The three daily logs (fixture `days`, tests/pipelines/conftest.py) are described in incremental_days.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from tests.pipelines.incremental_days import DAY2, request, runner, snapshot, write_jsonl


def outcome(store: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Everything a build decides: fingerprint, rows, quarantine, accounting, intents, inputs (of a new version:
    builds compared here use a --seed of their own, so none is reported unchanged with an older manifest)."""
    assert not report["unchanged"]
    version = report["version"]
    manifest = open_store(store).manifest(version)
    quarantine = pl.read_parquet(store / "versions" / version / "quarantine.parquet")
    return {
        "fingerprint": report["fingerprint"],
        "rows": load_rows(open_store(store), version).sort("intent").to_dicts(),
        "quarantine": quarantine.sort("source_file", "source_line").to_dicts(),
        "accounting": manifest["accounting"],
        "intents": manifest["intents"],
        "inputs": manifest["inputs"],
    }


def full_build(tmp_path: Path, logs: list[Path], name: str, seed: str = "0") -> dict[str, Any]:
    store = tmp_path / name
    return outcome(store, snapshot(store, logs, "--full", "--seed", seed))


def test_appending_days_reads_only_the_new_file_and_equals_a_full_rebuild(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    first = snapshot(store, days[:1])
    second = snapshot(store, days[:2])
    third = snapshot(store, days)
    assert first["reuse"] == {"files_read": 1, "files_reused": 0, "rows_read": 9, "rows_reused": 0}
    assert second["reuse"] == {"files_read": 1, "files_reused": 1, "rows_read": 10, "rows_reused": 9}
    assert third["reuse"] == {"files_read": 1, "files_reused": 2, "rows_read": 4, "rows_reused": 19}
    assert outcome(store, third) == full_build(tmp_path, days, "full")
    # By hand, all three days (23 rows): duplicate_event 4 = g1a (day2, first seen day1), c1s (day2: the repeat
    # comes before its broken JSON in the reason order), g4f (day3, first seen day2), the second g6a in day2.
    assert third["accounting"] == {
        "input_rows": 23,
        "valid_rows": 19,
        "quarantined": {"duplicate_event": 4},
        "outside_window": 0,
    }
    rows = {r["intent"]: r for r in outcome(store, third)["rows"]}
    # golden hour requests with a valid call: r1, r2 (day1 and day2), r4, r6 -> 4, not 5
    # adjust: contrast 10 = 1 export / 1 call (the repeat of g1a does not count twice); 20 = 2/3; 30 = 0/1
    assert rows["golden hour"]["n_calls"] == 4 and '"contrast":10' in rows["golden hour"]["adjust"]
    # cold tone: requests c1 and c7; adjust -30 (c1) and -40 (c7) are both 1 export / 1 call: a tie on rate,
    # exports and calls -> the smaller canonical string: "-3" < "-4"
    assert rows["cold tone"]["n_calls"] == 2 and '"contrast":-30' in rows["cold tone"]["adjust"]
    quarantine = outcome(store, third)["quarantine"]
    assert [(Path(q["source_file"]).name, q["source_line"], q["reason"]) for q in quarantine] == [
        ("day2.jsonl", 1, "duplicate_event"),
        ("day2.jsonl", 2, "duplicate_event"),
        ("day2.jsonl", 10, "duplicate_event"),
        ("day3.jsonl", 4, "duplicate_event"),
    ]


def test_a_rerun_reads_nothing_and_is_unchanged(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    again = snapshot(store, days)
    assert again["unchanged"] and again["reuse"]["files_read"] == 0 and again["reuse"]["rows_reused"] == 23


def test_a_changed_file_is_read_again_and_a_later_repeat_of_it_too(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    # day2 loses its first two lines and gains request r8: g4f in day3 still repeats day2's g4f
    write_jsonl(days[1], DAY2[2:] + request("g8", "r8", "golden hour", True, 10))
    changed = snapshot(store, days, "--seed", "1")
    # day2 is new bytes; day3 holds a repeat of day2's event in a new context, so its rows are read again too
    assert changed["reuse"] == {"files_read": 2, "files_reused": 1, "rows_read": 15, "rows_reused": 9}
    assert outcome(store, changed) == full_build(tmp_path, days, "full", seed="1")
    assert changed["accounting"]["quarantined"] == {"duplicate_event": 2}  # g4f in day3, the second g6a


def test_a_removed_file_drops_out_without_reading_anything(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    kept = [days[0], days[2]]
    removed = snapshot(store, kept, "--seed", "1")
    assert removed["reuse"] == {"files_read": 0, "files_reused": 2, "rows_read": 0, "rows_reused": 13}
    assert removed["accounting"]["quarantined"] == {}  # g4f's first occurrence was in day2: now it is valid
    assert outcome(store, removed) == full_build(tmp_path, kept, "full", seed="1")


def test_full_reads_everything_and_gives_the_same_version(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    incremental = snapshot(store, days)
    full = snapshot(store, days, "--full")
    assert full["unchanged"] and full["version"] == incremental["version"]
    assert full["reuse"] == {"files_read": 3, "files_reused": 0, "rows_read": 23, "rows_reused": 0}


def test_order_of_files_decides_the_first_occurrence(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    reordered = [days[1], days[0], days[2]]
    report = snapshot(store, reordered, "--seed", "1")
    # day1 now repeats day2's g1a and c1s, day3 still repeats day2's g4f: both are read again for their records
    assert report["reuse"]["files_read"] == 2
    assert outcome(store, report) == full_build(tmp_path, reordered, "full", seed="1")
    quarantine = outcome(store, report)["quarantine"]
    assert [(Path(q["source_file"]).name, q["source_line"]) for q in quarantine][:2] == [
        ("day1.jsonl", 1),
        ("day1.jsonl", 8),
    ]


def test_a_parquet_day_merges_like_a_jsonl_day(tmp_path: Path, days: list[Path]) -> None:
    parquet = tmp_path / "logs" / "day2.parquet"
    pl.read_ndjson(days[1]).write_parquet(parquet)
    mixed = [days[0], parquet, days[2]]
    store = tmp_path / "store"
    snapshot(store, mixed[:2])
    report = snapshot(store, mixed)
    result = outcome(store, report)
    expected = full_build(tmp_path, mixed, "full")
    assert result == expected
    assert result["fingerprint"] == full_build(tmp_path, days, "jsonl")["fingerprint"]
    assert json.loads(result["quarantine"][0]["record"])["event_id"] == "g1a"  # the Parquet row, whole


def test_a_corrupt_cache_entry_is_ignored_with_a_warning_and_rebuilt(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    events = sorted(open_store(store).snapshot_cache_dir.glob("files/*/*/events.parquet"))
    assert len(events) == 2
    for path in events:
        path.write_bytes(path.read_bytes()[:-20])  # truncated
    report = snapshot(store, days, "--seed", "1")
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and all("events.parquet has the wrong size" in w for w in warnings)
    assert report["reuse"]["files_read"] == 3
    assert outcome(store, report) == full_build(tmp_path, days, "full", seed="1")
    assert "warning" not in snapshot(store, days)["stderr"]  # rebuilt


def test_an_entry_from_another_version_is_not_trusted(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    (entry_json,) = open_store(store).snapshot_cache_dir.glob("files/*/*/entry.json")
    entry = json.loads(entry_json.read_text())
    entry_json.write_text(json.dumps({**entry, "format": 0}))
    report = snapshot(store, days)
    assert "written by another databuild version" in report["stderr"] and report["reuse"]["files_read"] == 3


def test_an_interrupted_build_leaves_the_store_as_it_was(
    tmp_path: Path, days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot_cache

    store = tmp_path / "store"
    snapshot(store, days[:2])
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    real_rename = pipelines.snapshot_cache.os.rename

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the process dies as it publishes its first new cache entry

    monkeypatch.setattr(pipelines.snapshot_cache.os, "rename", killed)
    result = runner.invoke(app, ["snapshot", "--store", str(store), *[a for p in days for a in ("--logs", str(p))]])
    assert result.exit_code == 130 and result.stderr == "Error: interrupted\n"
    monkeypatch.setattr(pipelines.snapshot_cache.os, "rename", real_rename)
    after = sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())
    assert after == before
    assert outcome(store, snapshot(store, days, "--seed", "1")) == full_build(tmp_path, days, "full", seed="1")


def test_a_snapshot_after_an_augment_names_the_snapshot_as_parent(tmp_path: Path, days: list[Path]) -> None:
    from pipelines.emit import publish_version

    store = tmp_path / "store"
    snapshot(store, days[:2])  # v1
    opened = open_store(store)
    rows = load_rows(opened, "v1").with_columns(pl.lit("augmented").alias("source"))
    publish_version(opened, rows, {"command": "databuild augment"}, {"augmented": True})  # v2, no inputs
    report = snapshot(store, days)
    assert report["version"] == "v3" and opened.manifest("v3")["parent"] == "v1"


def test_show_reports_the_cache_size(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    result = runner.invoke(app, ["show", "--store", str(store)])
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if "snapshot cache:" in line)
    assert "for 3 input files" in line and " KB " in line


def test_a_build_read_in_batches_equals_one_read_at_once(
    tmp_path: Path, days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot

    whole = full_build(tmp_path, days, "whole")  # 23 rows: one batch
    monkeypatch.setattr(pipelines.snapshot, "BATCH_ROWS", 1)  # every file a batch of its own
    store = tmp_path / "batched"
    report = snapshot(store, days)
    assert report["reuse"] == {"files_read": 3, "files_reused": 0, "rows_read": 23, "rows_reused": 0}
    assert outcome(store, report) == whole
    # each batch wrote its files' entries and contexts: the same build again reads nothing
    again = snapshot(store, days)
    assert again["unchanged"] and again["reuse"]["files_read"] == 0
    assert outcome(store, snapshot(store, days, "--full", "--seed", "1")) == full_build(tmp_path, days, "f", "1")


def test_a_batch_whose_entries_fail_to_write_fails_the_build(
    tmp_path: Path, days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's entries are written by a thread while the next batch reads: its failure is the build's, named in
    one Error line, and nothing is published."""
    import pipelines.snapshot

    monkeypatch.setattr(pipelines.snapshot, "BATCH_ROWS", 1)  # every file a batch of its own
    real_write = pipelines.snapshot.write_entries

    def disk_full_at_the_first_batch(con: Any, store: Any, kind: str, targets: dict[int, str], overwrite: bool) -> None:
        if kind == "files" and 1 in targets:
            raise OSError(28, "No space left on device")
        real_write(con, store, kind, targets, overwrite)

    monkeypatch.setattr(pipelines.snapshot, "write_entries", disk_full_at_the_first_batch)
    store = tmp_path / "store"
    result = runner.invoke(app, ["snapshot", "--store", str(store), *[a for p in days for a in ("--logs", str(p))]])
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert not (store / "versions").exists() or not any((store / "versions").iterdir())
