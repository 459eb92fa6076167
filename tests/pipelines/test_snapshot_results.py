"""A build carries the intents its new files do not touch from the merged result of an earlier build of its first
files (a `results/` entry of the snapshot cache), and still equals a full rebuild.

Two days written here: day A (golden hour, cold tone, misty morning without an export, blue hour with one tool) and
day B, which touches cold tone (a new request, in another spelling), misty morning (now exported) and a new intent,
neon night; golden hour and blue hour are untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from databuild.contracts import load_rows
from databuild.store import open_store
from tests.pipelines.incremental_days import call, request, snapshot, write_jsonl
from tests.pipelines.test_snapshot_incremental import full_build, outcome

DAY_A = [
    *request("g1", "r1", "golden hour", True, 10),
    *request("c1", "c1", "cold tone", True, -30),
    *request("m1", "m1", "misty morning", False, 5),  # no export: excluded
    call("b1a", "b1", "blue hour", "adjust", True, '{"contrast": 1}'),  # one tool of three: excluded
]
DAY_B = [
    *[{**r, "intent": "Cold Tone"} for r in request("c2", "c2", "cold tone", True, -40)],
    *[{**r, "intent": "Cold Tone"} for r in request("c3", "c3", "cold tone", True, -40)],
    *request("m2", "m2", "misty morning", True, 15),
    *request("n1", "n1", "neon night", True, 50),
]


@pytest.fixture
def two_days(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "logs"
    folder.mkdir()
    return [write_jsonl(folder / "a.jsonl", DAY_A), write_jsonl(folder / "b.jsonl", DAY_B)]


def results_entries(store: Path) -> list[Path]:
    return sorted(p.parent for p in open_store(store).snapshot_cache_dir.glob("results/*/*/entry.json"))


def pool(store: Path, version: str) -> dict[str, str]:
    frame = pl.read_parquet(open_store(store).intent_pool_path(version))
    return dict(zip(frame["intent"], frame["reason"], strict=True))


def test_the_next_day_carries_untouched_intents_and_equals_a_full_rebuild(tmp_path: Path, two_days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (day_a,) = results_entries(store)  # the build of day A left its result
    report = snapshot(store, two_days)
    assert len(results_entries(store)) == 1 and not day_a.exists()  # superseded by the build of both days
    assert outcome(store, report) == full_build(tmp_path, two_days, "full")
    rows = {r["intent"]: r for r in load_rows(open_store(store), report["version"]).to_dicts()}
    # by hand: cold tone has requests c1, c2, c3 and is spelled "Cold Tone" in 6 of its 9 calls; misty morning
    # left the pool with its first export (contrast 15: 1 export in 1 call beats contrast 5: 0 in 1)
    assert sorted(rows) == ["cold tone", "golden hour", "misty morning", "neon night"]
    assert rows["cold tone"]["n_calls"] == 3 and rows["cold tone"]["intent_text"] == "Cold Tone"
    assert rows["misty morning"]["n_calls"] == 2 and '"contrast":15' in rows["misty morning"]["adjust"]
    assert rows["golden hour"]["n_calls"] == 1 and '"contrast":10' in rows["golden hour"]["adjust"]
    assert pool(store, report["version"]) == {"blue hour": "incomplete_tools"}


def retouch_carried_rows(entry: Path) -> None:
    """Change golden hour's n_calls in a results entry, keeping the entry consistent (as a valid entry would be)."""
    path = entry / "rows.parquet"
    table = pq.read_table(path)
    rows = pl.from_arrow(table)
    assert isinstance(rows, pl.DataFrame)
    changed = rows.with_columns(
        pl.when(pl.col("intent") == "golden hour").then(99).otherwise(pl.col("n_calls")).alias("n_calls")
    )
    pq.write_table(changed.to_arrow().cast(table.schema), path)
    record = json.loads((entry / "entry.json").read_text())
    record["tables"]["rows"]["bytes"] = path.stat().st_size
    (entry / "entry.json").write_text(json.dumps(record))


def test_untouched_intents_come_from_the_entry_and_full_computes_every_intent(
    tmp_path: Path, two_days: list[Path]
) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (entry,) = results_entries(store)
    retouch_carried_rows(entry)
    carried = {r["intent"]: r for r in load_rows(open_store(store), snapshot(store, two_days)["version"]).to_dicts()}
    assert carried["golden hour"]["n_calls"] == 99  # taken from the entry, not computed again
    assert carried["cold tone"]["n_calls"] == 3  # touched by day B: computed
    full = snapshot(store, two_days, "--full")
    rows = {r["intent"]: r for r in load_rows(open_store(store), full["version"]).to_dicts()}
    assert rows["golden hour"]["n_calls"] == 1


@pytest.mark.parametrize("options", [["--seed", "5"], ["--test-fraction", "1.0"], ["--rank", "wilson"]])
def test_a_result_built_with_other_options_is_not_carried(
    tmp_path: Path, two_days: list[Path], options: list[str]
) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (entry,) = results_entries(store)
    retouch_carried_rows(entry)
    report = snapshot(store, two_days, *options)
    expected = outcome(tmp_path / "full", snapshot(tmp_path / "full", two_days, "--full", *options))
    assert outcome(store, report) == expected


def test_a_damaged_result_is_ignored_with_a_warning(tmp_path: Path, two_days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (entry,) = results_entries(store)
    (entry / "intent_stats.parquet").write_bytes(b"PAR1 not a footer")
    report = snapshot(store, two_days)
    warnings = [line for line in report["stderr"].splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "intent_stats.parquet has the wrong size" in warnings[0]
    assert warnings[0].endswith("; removed it")
    assert outcome(store, report) == full_build(tmp_path, two_days, "full")
    assert entry not in results_entries(store) and "warning" not in snapshot(store, two_days[:1])["stderr"]
