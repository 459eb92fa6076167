"""A changed SQL model makes unusable only the cache entries it computes and those after them: a change to the merge
(models 43-80) reads no file again; a change to a file's place (32-35, 39-42) reads again only the files that repeat
an event of an earlier file (their records are needed for the quarantine, as for any new context); a change to a
file's own models (up to 31, 36-37) reads every file again; and whatever changed, nothing is carried from a build of
the old code (the result equals a full build with the new code).

The models are a copy of `sql/` in tmp_path, changed by the tests (`resource_dir` points there).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import databuild.resources
import databuild.sqlrun
from databuild.contracts import load_rows
from databuild.store import open_store
from pipelines.quarantine_base import memo_keys
from pipelines.snapshot_cache import cache_keys, model_stage, results_keys
from tests.pipelines.incremental_days import snapshot
from tests.pipelines.test_snapshot_incremental import full_build, outcome
from tests.pipelines.test_snapshot_results import two_days  # noqa: F401 (a fixture)


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the SQL models that the build reads (and hashes) instead of the checkout's."""
    copy = tmp_path / "sql"
    shutil.copytree(databuild.resources.resource_dir("sql"), copy)
    original = databuild.resources.resource_dir

    def resource_dir(kind: str) -> Path:
        return copy if kind == "sql" else original(kind)

    monkeypatch.setattr(databuild.resources, "resource_dir", resource_dir)
    monkeypatch.setattr(databuild.sqlrun, "resource_dir", resource_dir)
    return copy


def change(models: Path, name: str, old: str, new: str) -> None:
    path = models / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def splits(store: Path, version: str) -> dict[str, str]:
    return {r["intent"]: r["split"] for r in load_rows(open_store(store), version).to_dicts()}


def test_a_changed_merge_model_reads_no_file_and_carries_nothing_from_the_old_code(
    tmp_path: Path, days: list[Path], models: Path
) -> None:
    store = tmp_path / "store"
    before = snapshot(store, days)
    # every intent's split turned over: test where the formula says train, and the other way round
    change(models, "50_split", "< CAST($test_threshold AS HUGEINT)", ">= CAST($test_threshold AS HUGEINT)")
    after = snapshot(store, days)
    assert after["reuse"] == {"files_read": 0, "files_reused": 3, "rows_read": 0, "rows_reused": 23}
    other = {"test": "train", "train": "test"}
    turned = {intent: other[split] for intent, split in splits(store, before["version"]).items()}
    assert splits(store, after["version"]) == turned  # no intent carried from the results of the old code
    assert outcome(store, after) == full_build(tmp_path, days, "full")


def test_a_changed_quarantine_model_writes_the_whole_quarantine_again(
    tmp_path: Path, days: list[Path], models: Path
) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:2])
    change(models, "70_quarantine_of", "q.source_line, q.reason,", "q.source_line, upper(q.reason) AS reason,")
    after = snapshot(store, days)
    assert after["reuse"]["files_read"] == 1  # the new day only
    quarantine = outcome(store, after)["quarantine"]
    # day2's rows too: the quarantine file of the first two days' version is not the beginning of this one
    assert [(Path(q["source_file"]).name, q["reason"]) for q in quarantine] == [
        ("day2.jsonl", "DUPLICATE_EVENT"),
        ("day2.jsonl", "DUPLICATE_EVENT"),
        ("day2.jsonl", "DUPLICATE_EVENT"),
        ("day3.jsonl", "DUPLICATE_EVENT"),
    ]
    assert outcome(store, after) == full_build(tmp_path, days, "full")


def test_a_changed_context_model_reads_no_file_again(
    tmp_path: Path,
    two_days: list[Path],  # noqa: F811 (the fixture)
    models: Path,
) -> None:
    store = tmp_path / "store"
    snapshot(store, two_days[:1])
    before = snapshot(store, two_days)
    # each request pair first seen in a file counts ten times (both ways the model counts them)
    change(models, "41_first_pairs", "count(*) AS n\nFROM target_pairs", "10 * count(*) AS n\nFROM target_pairs")
    change(models, "41_first_pairs", "count(*)\nFROM first_files", "10 * count(*)\nFROM first_files")
    after = snapshot(store, two_days, "--seed", "1")
    assert after["reuse"]["files_read"] == 0  # neither file repeats an event of the other: none is read again
    n_calls = {r["intent"]: r["n_calls"] for r in load_rows(open_store(store), before["version"]).to_dicts()}
    # by hand (tests/pipelines/test_snapshot_results.py): cold tone 3 requests, misty morning 2, the others 1
    assert n_calls == {"cold tone": 3, "misty morning": 2, "golden hour": 1, "neon night": 1}
    rows = load_rows(open_store(store), after["version"]).to_dicts()
    assert {r["intent"]: r["n_calls"] for r in rows} == {intent: 10 * n for intent, n in n_calls.items()}
    assert outcome(store, after) == full_build(tmp_path, two_days, "full", seed="1")


def test_a_changed_context_model_reads_again_the_files_that_repeat_an_earlier_event(
    tmp_path: Path, days: list[Path], models: Path
) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    change(
        models,
        "34_corrections",
        "SELECT DISTINCT t.file_order",
        "-- a comment is a change too\nSELECT DISTINCT t.file_order",
    )
    after = snapshot(store, days, "--seed", "1")
    # day2 repeats day1's events and day3 day2's (incremental_days.py): their duplicate_event rows need their records
    assert after["reuse"] == {"files_read": 2, "files_reused": 1, "rows_read": 14, "rows_reused": 9}
    assert outcome(store, after) == full_build(tmp_path, days, "full", seed="1")


def test_the_stages_of_the_models_at_their_boundaries() -> None:
    # a file's own state: up to 31 and the rejected rows (36-37); its place: 32-35 and 39-42; the merge: from 43
    expected = {
        "31_file_accounting": "files",
        "32_cached_table": "contexts",
        "35_correction_rows": "contexts",
        "36_rejected": "files",
        "37_file_quarantine": "files",
        "39_cached_context": "contexts",
        "42_all_first_pairs": "contexts",
        "43_touched_intents": "merge",
        "80_accounting": "merge",
    }
    assert {name: model_stage(name) for name in expected} == expected


def test_a_changed_file_model_reads_every_file_again(tmp_path: Path, days: list[Path], models: Path) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    change(models, "26_file_candidates", "GROUP BY o.file_order", "-- a comment is a change too\nGROUP BY o.file_order")
    after = snapshot(store, days, "--seed", "1")
    assert after["reuse"] == {"files_read": 3, "files_reused": 0, "rows_read": 23, "rows_reused": 0}
    assert outcome(store, after) == full_build(tmp_path, days, "full", seed="1")


def test_each_key_digests_the_models_of_its_own_entries_and_those_before(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def keys() -> tuple[list[str], list[str], list[str], list[str]]:
        built = cache_keys(["sha-a", "sha-b"], "pack", None, None, 200)
        results = results_keys(built.contexts, "export_rate", 0, 1)
        return built.files, built.contexts, results, memo_keys(built.contexts, ["a.jsonl", "b.jsonl"])

    files, contexts, results, memos = keys()
    (models / "60_rows.sql").write_text("-- changed\n" + (models / "60_rows.sql").read_text())
    assert keys()[:2] == (files, contexts)
    assert all(a != b for a, b in zip(keys()[2] + keys()[3], results + memos, strict=True))
    files, contexts, results, memos = keys()
    (models / "34_corrections.sql").write_text("-- changed\n" + (models / "34_corrections.sql").read_text())
    assert keys()[0] == files
    assert all(a != b for a, b in zip(keys()[1] + keys()[2] + keys()[3], contexts + results + memos, strict=True))
    files, contexts, results, memos = keys()
    (models / "37_file_quarantine.sql").write_text("-- changed\n" + (models / "37_file_quarantine.sql").read_text())
    changed = keys()
    assert all(a != b for a, b in zip(sum(changed, []), files + contexts + results + memos, strict=True))
