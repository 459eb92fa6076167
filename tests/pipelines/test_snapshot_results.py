"""A build carries the intents its new files do not touch from the merged result of an earlier build of its first
files (a `results/` entry of the snapshot cache), and still equals a full rebuild.

Two days written here: day A (golden hour, cold tone, misty morning without an export, blue hour with one tool) and
day B, which touches cold tone (a new request, in another spelling), misty morning (now exported) and a new intent,
neon night; golden hour and blue hour are untouched.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from pipelines.snapshot_cache import CHECKSUM, file_checksum
from tests.pipelines.incremental_days import call, request, runner, snapshot, write_jsonl
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
    assert len(results_entries(store)) == 1  # the build of day A left its result
    report = snapshot(store, two_days)
    assert len(results_entries(store)) == 2
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
    record["tables"]["rows"][CHECKSUM] = file_checksum(path)
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


def test_rows_changed_on_disk_are_not_carried(tmp_path: Path, two_days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (entry,) = results_entries(store)
    retouch_carried_rows(entry)
    record = json.loads((entry / "entry.json").read_text())
    record["tables"]["rows"][CHECKSUM] = "0" * 32  # the same size, rows and columns, other bytes
    (entry / "entry.json").write_text(json.dumps(record))
    report = snapshot(store, two_days)
    assert "rows.parquet is damaged: its xxh3_128 checksum does not match" in report["stderr"]
    assert outcome(store, report) == full_build(tmp_path, two_days, "full")


def test_an_entry_pruned_while_a_build_runs_is_still_read(
    tmp_path: Path, two_days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot

    expected = full_build(tmp_path, two_days, "full")
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    (entry,) = results_entries(store)
    real_merge = pipelines.snapshot._merge_state

    def pruned_meanwhile(*args: Any) -> Any:  # another build removes the entry after this one chose it
        shutil.rmtree(entry)
        return real_merge(*args)

    monkeypatch.setattr(pipelines.snapshot, "_merge_state", pruned_meanwhile)
    report = snapshot(store, two_days)
    assert "warning" not in report["stderr"] and not entry.exists()
    assert outcome(store, report) == expected


def test_only_the_newest_results_stay(tmp_path: Path, two_days: list[Path]) -> None:
    from pipelines.snapshot_results import KEPT_RESULTS

    store = tmp_path / "store"
    for seed in range(KEPT_RESULTS + 2):
        snapshot(store, two_days, "--seed", str(seed))
    assert len(results_entries(store)) == KEPT_RESULTS


def test_a_result_that_cannot_be_kept_is_a_warning(
    tmp_path: Path, two_days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipelines.snapshot, "stage_results", disk_full)
    store = tmp_path / "store"
    report = snapshot(store, two_days)
    assert "warning: could not keep this build's result for the next one ([Errno 28] No space" in report["stderr"]
    assert report["version"] == "v1" and results_entries(store) == []
    assert outcome(store, report) == full_build(tmp_path, two_days, "full")


def test_a_build_interrupted_while_it_writes_the_version_keeps_no_result(
    tmp_path: Path, two_days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot

    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    before = results_entries(store)

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipelines.snapshot, "publish_version", interrupted)
    result = runner.invoke(app, ["snapshot", "--store", str(store), *[a for p in two_days for a in ("--logs", str(p))]])
    assert result.exit_code == 130 and result.stderr == "Error: interrupted\n"
    assert results_entries(store) == before and open_store(store).version_names() == ["v1"]


def random_day(rng: random.Random, requests: int) -> list[dict[str, Any]]:
    """Requests of three calls over a few intents in two spellings, events repeating across days, broken JSON."""
    intents = [f"{word} {k}" for word in ("golden", "Golden", "cold", " cold ") for k in range(6)]
    records = []
    for _ in range(requests):
        intent, request_id, exported = rng.choice(intents), f"r{rng.randrange(12)}", rng.random() < 0.6
        for tool in ("adjust", "selective_adjust", "filter"):
            outputs = ['{"contrast": 1}', '{"contrast": 2}', "{}", "{'bad'}"] if tool == "adjust" else ["{}", "{'x'}"]
            record = call(f"e{rng.randrange(50)}", request_id, intent, tool, exported, rng.choice(outputs))
            records.append({**record, "ts": f"2024-05-0{rng.randrange(1, 4)}T10:00:00Z"})
    return records


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_random_days_carried_or_not_equal_a_full_rebuild(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.snapshot

    rng = random.Random(seed)
    days = [write_jsonl(tmp_path / f"d{i}.jsonl", random_day(rng, rng.randrange(3, 8))) for i in range(4)]
    copy = tmp_path / "copy_of_d0.jsonl"
    copy.write_bytes(days[0].read_bytes())
    options = ["--seed", str(seed)] + (["--since", "2024-05-02"] if seed == 2 else [])
    if seed == 5:
        monkeypatch.setattr(pipelines.snapshot, "BATCH_ROWS", 1)  # every file a batch of its own
    carried_files = []
    real_find = pipelines.snapshot.find_carried

    def recorded(*args: Any) -> Any:
        carried = real_find(*args)
        carried_files.append(carried.files if carried else 0)
        return carried

    monkeypatch.setattr(pipelines.snapshot, "find_carried", recorded)
    store = tmp_path / "store"
    builds = [days[:1], days[:2], days[:3], [*days[:3], copy], [*days[:2], days[3]], days[:3]]
    for step, logs in enumerate(builds):
        report = snapshot(store, logs, *options)
        full_store = tmp_path / f"full{step}"
        expected = snapshot(full_store, logs, "--full", *options)
        assert report["fingerprint"] == expected["fingerprint"], step
        if not report["unchanged"]:
            assert outcome(store, report) == outcome(full_store, expected), step
    # each build after the first carries its first files' result: 1, 2, 3 (the copy of d0 is new), 2 (d3 replaces
    # d2), 3 (d0..d2 again: their entry is among the newest, so the whole result is carried)
    assert carried_files == [0, 1, 2, 3, 2, 3]  # --full builds look for none
