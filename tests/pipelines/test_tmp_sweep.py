"""A build sweeps every work folder in tmp/ whose owner is gone, whatever its kind, before it starts; an
`unchanged` rerun too; a folder whose owner lives stays (issue 23, item 3)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from databuild.store import open_store
from tests.pipelines.incremental_days import snapshot

ROOT = Path(__file__).parents[2]
KILLED_BUILD = """
import os, signal, sys
from databuild.store import open_store
store = open_store(sys.argv[1])
with store.workspace("duckdb-") as spill, store.workspace("build-results-") as results, store.staging() as staging:
    for folder in (spill, results, staging):
        (folder / "part.bin").write_bytes(b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 in the middle of the work
"""


def killed_build(store: Path) -> list[str]:
    """Run a process that opens the work folders a build opens and is killed with SIGKILL; their names."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(store)], env=env, cwd=ROOT, check=False)
    assert done.returncode == -9
    return sorted(p.name for p in (store / "tmp").iterdir() if p.is_dir())


def orphan(store: Path, name: str) -> Path:
    """A work folder of any kind whose owner is gone (nobody holds its lock), a minute old or a second old."""
    folder = store / "tmp" / name
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "spill.tmp").write_bytes(b"x" * 1000)
    return folder


def test_a_build_sweeps_the_folders_of_a_killed_build_before_it_starts(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    left = killed_build(store)
    assert [name.split("-")[0] for name in left] == ["build", "build", "duckdb"] and len(left) == 3
    assert any(name.startswith("build-results-") for name in left)
    report = snapshot(store, days[:2])  # seconds after the kill
    assert not report["unchanged"]
    assert sorted(p.name for p in (store / "tmp").iterdir() if p.is_dir()) == []


def test_an_unchanged_rerun_sweeps_too(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days)
    killed_build(store)
    for name in ("duckdb-abc", "build-xyz", "build-results-q", "export-anything-1"):
        orphan(store, name)
    report = snapshot(store, days)
    assert report["unchanged"]
    assert sorted(p.name for p in (store / "tmp").iterdir()) == []


def test_a_live_owners_folder_and_last_failed_stay(tmp_path: Path, days: list[Path]) -> None:
    store = tmp_path / "store"
    snapshot(store, days[:1])
    live = orphan(store, "duckdb-live")
    last_failed = store / "tmp" / "last-failed"
    last_failed.mkdir()
    (last_failed / "quarantine.parquet").write_bytes(b"kept for the user")
    descriptor = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # its owner still works in it (another open file: another owner)
        snapshot(store, days[:2])
        assert (live / "inner" / "spill.tmp").is_file()
    finally:
        os.close(descriptor)
    assert (last_failed / "quarantine.parquet").read_bytes() == b"kept for the user"
    assert open_store(store).sweep_tmp() == ["duckdb-live"]  # its owner gone now
    assert sorted(p.name for p in (store / "tmp").iterdir()) == ["last-failed"]
