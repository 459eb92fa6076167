"""The store's cleanup never follows a link out of the store (issue 23, item 1).

Each test plants a symbolic link where the store deletes, moves, prunes or replaces (the results entries' pruning,
a cache entry replaced by --full, the tmp/ sweep, tmp/ itself, last-failed/, versions/), pointing at a folder of the
user's outside the store. The build goes on; the link is removed as a link with one `warning:`; the user's folder
is left exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from typer.testing import CliRunner

from databuild.cli import app
from tests.pipelines.incremental_days import snapshot
from tests.pipelines.test_failed_build import write_log

runner = CliRunner()
OLD = 946_684_800  # 2000-01-01: older than any entry a build writes


def users_folder(tmp_path: Path, name: str = "outside") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "user.txt").write_text("the user's file")
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def link_warning(link: Path, target: Path) -> str:
    return f"warning: removed the symbolic link {link} -> {target} from the store"


def test_pruning_results_never_deletes_through_a_link(tmp_path: Path, days: list[Path]) -> None:
    """The issue's setup: `results/ab` links to a folder with an old-looking entry and a user's file; five runs."""
    outside = users_folder(tmp_path)
    entry = outside / ("ab" + "0" * 62)
    entry.mkdir()
    (entry / "entry.json").write_text(json.dumps({"format": 2, "key": entry.name, "tables": {}}))
    (entry / "notes.txt").write_text("the user's notes")
    for path in (entry / "entry.json", entry):
        os.utime(path, (OLD, OLD))
    before = files_of(outside)
    store = tmp_path / "store"
    results = store / "cache" / "snapshot" / "results"
    results.mkdir(parents=True)
    (results / "ab").symlink_to(outside)
    stderr = "".join(snapshot(store, days[:1], "--seed", str(seed))["stderr"] for seed in range(5))
    assert files_of(outside) == before
    assert not (results / "ab").is_symlink()
    assert stderr.count(link_warning(results / "ab", outside)) == 1, stderr
    assert len(list(results.glob("*/*/entry.json"))) == 4  # the pruning still keeps the newest four


def test_an_entry_replaced_by_full_is_never_moved_through_a_link(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    files = store / "cache" / "snapshot" / "files"
    outside = tmp_path / "outside"
    shutil.move(files, outside)  # the entries now live outside, reached through a link
    (outside / "user.txt").write_text("the user's file")
    files.symlink_to(outside)
    before = files_of(outside)
    report = snapshot(store, days[:1], "--full", "--seed", "1")
    assert files_of(outside) == before
    assert files.is_dir() and not files.is_symlink() and len(list(files.glob("*/*/entry.json"))) == 1
    assert report["stderr"].count(link_warning(files, outside)) == 1


def test_a_foreign_entry_is_never_read_through_a_link(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    (entry,) = (store / "cache" / "snapshot" / "files").glob("*/*")
    outside = tmp_path / "outside"
    shutil.move(entry, outside)
    entry.symlink_to(outside)
    before = files_of(outside)
    report = snapshot(store, days[:1], "--seed", "1")
    assert report["reuse"]["files_read"] == 1  # not taken from the linked folder: read again
    assert files_of(outside) == before and entry.is_dir() and not entry.is_symlink()
    assert report["stderr"].count(link_warning(entry, outside)) == 1


def test_the_tmp_sweep_removes_links_as_links(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    outside = users_folder(tmp_path)
    (store / "tmp" / "build-planted").symlink_to(outside)
    report = snapshot(store, days[:1], "--seed", "1")
    assert files_of(outside) == {"user.txt": b"the user's file"}
    assert not os.path.lexists(store / "tmp" / "build-planted")
    assert report["stderr"].count(link_warning(store / "tmp" / "build-planted", outside)) == 1


def test_a_tmp_that_is_a_link_is_never_swept_through(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    outside = users_folder(tmp_path)
    (outside / "build-abc").mkdir()  # looks like a killed build's work folder, and nobody holds its lock
    (outside / "build-abc" / "data.txt").write_text("the user's data")
    for path in (outside / "build-abc" / "data.txt", outside / "build-abc"):
        os.utime(path, (OLD, OLD))
    before = files_of(outside)
    shutil.rmtree(store / "tmp")
    (store / "tmp").symlink_to(outside)
    report = snapshot(store, days[:1], "--seed", "1")
    assert files_of(outside) == before
    assert (store / "tmp").is_dir() and not (store / "tmp").is_symlink()
    assert report["stderr"].count(link_warning(store / "tmp", outside)) == 1


def test_last_failed_is_never_written_through_a_link(tmp_path: Path) -> None:
    log = write_log(tmp_path / "logs.jsonl", '{"name": "kodak_gold", "intensity": 50}')  # keeps no intent
    store = tmp_path / "store"
    outside = users_folder(tmp_path)
    (outside / "quarantine.parquet").write_text("the user's file of that name")
    before = files_of(outside)
    (store / "tmp").mkdir(parents=True)
    (store / "tmp" / "last-failed").symlink_to(outside)
    result = runner.invoke(app, ["snapshot", "--logs", str(log), "--store", str(store)])
    assert result.exit_code == 1
    assert files_of(outside) == before
    kept = store / "tmp" / "last-failed" / "quarantine.parquet"
    assert kept.is_file() and not kept.parent.is_symlink() and f"quarantine: {kept}" in result.stderr
    assert result.stderr.count(link_warning(store / "tmp" / "last-failed", outside)) == 1


def test_a_version_is_never_renamed_through_a_link(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    outside = users_folder(tmp_path)
    store.mkdir()
    (store / "versions").symlink_to(outside)
    report = snapshot(store, days[:1])
    assert files_of(outside) == {"user.txt": b"the user's file"}
    assert (store / "versions" / report["version"] / "manifest.json").is_file()
    assert not (store / "versions").is_symlink()
    assert report["stderr"].count(link_warning(store / "versions", outside)) == 1
