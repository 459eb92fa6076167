"""The memo of input files' sha256: a build hashes only files it has not seen unchanged, never trusts a stale or
damaged memo, and builds the same version either way."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import pipelines.input_hashes as input_hashes
from databuild.cli import app
from databuild.store import open_store
from pipelines.input_hashes import InputHashes

runner = CliRunner()
LINE = (
    '{{"event_id": "e{n}{tool}", "request_id": "r{n}", "ts": "2024-05-01T10:00:00Z", "intent": "warm tone", '
    '"tool": "{tool}", "response": "JSON: {{}}", "exported": true}}\n'
)


def day(path: Path, n: int) -> Path:
    path.write_text("".join(LINE.format(n=n, tool=t) for t in ("adjust", "selective_adjust", "filter")))
    return path


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files read whole to hash them, in order."""
    calls: list[str] = []
    real = input_hashes.sha256_of

    def counting(path: Path) -> str:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(input_hashes, "sha256_of", counting)
    return calls


def snapshot(store: Path, *logs: Path) -> dict[str, Any]:
    result = runner.invoke(
        app, ["snapshot", "--store", str(store), "--format", "json", *[a for p in logs for a in ("--logs", str(p))]]
    )
    assert result.exit_code == 0, result.output
    return {**json.loads(result.stdout), "stderr": result.stderr}


def test_a_daily_build_hashes_only_the_new_day(tmp_path: Path, hashed: list[str]) -> None:
    one, two = day(tmp_path / "day1.jsonl", 1), day(tmp_path / "day2.jsonl", 2)
    store = tmp_path / "store"
    snapshot(store, one)
    report = snapshot(store, one, two)
    assert hashed == ["day1.jsonl", "day2.jsonl"]
    assert report["reuse"]["files_read"] == 1 and report["reuse"]["files_reused"] == 1
    assert [i["sha256"] for i in open_store(store).manifest(report["version"])["inputs"]] == [
        input_hashes.sha256_of(one),
        input_hashes.sha256_of(two),
    ]


def test_a_file_rewritten_with_its_old_size_and_mtime_is_hashed_again(tmp_path: Path, hashed: list[str]) -> None:
    log = day(tmp_path / "day.jsonl", 1)
    store = tmp_path / "store"
    first = snapshot(store, log)
    before = log.stat()
    log.write_text(log.read_text().replace("warm tone", "cold tone"))  # same length
    os.utime(log, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time still moves
    second = snapshot(store, log)
    assert hashed == ["day.jsonl", "day.jsonl"]
    assert second["reuse"]["files_read"] == 1 and second["fingerprint"] != first["fingerprint"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": 2, "sha256": {"1:2:3:4:5": "abc"}}',
        '{"format": 2, "sha256": {"1:2": "' + "z" * 64 + '"}}',
        "[]",
    ],
)
def test_a_damaged_memo_is_ignored_with_a_warning(tmp_path: Path, hashed: list[str], content: str) -> None:
    log = day(tmp_path / "day.jsonl", 1)
    store = tmp_path / "store"
    first = snapshot(store, log)
    open_store(store).input_hashes_path.write_text(content)
    again = snapshot(store, log)
    assert hashed == ["day.jsonl", "day.jsonl"]
    assert again["fingerprint"] == first["fingerprint"]
    assert again["stderr"].count("warning: ignoring") == 1 and "input_hashes.json" in again["stderr"]
    assert json.loads(open_store(store).input_hashes_path.read_text())["format"] == 2  # written anew


def test_the_memo_keeps_the_most_recently_used_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_hashes, "MAX_ENTRIES", 2)
    files = [day(tmp_path / f"day{n}.jsonl", n) for n in (1, 2, 3)]
    memo_path = tmp_path / "memo.json"
    memo = InputHashes(memo_path)
    for path in (files[0], files[1], files[0], files[2]):  # day1 used again after day2: day2 is the oldest
        memo.sha256(path)
    memo.save()
    kept = json.loads(memo_path.read_text())["sha256"]
    assert sorted(kept.values()) == sorted(input_hashes.sha256_of(f) for f in (files[0], files[2]))
