"""Crash windows and leftovers: what a killed or blocked snapshot leaves, and what the next one does about it.

- everything a version needs (its intent pool too) is inside the version before the rename;
- SIGTERM cleans up like Ctrl-C; work folders of killed builds are swept under the store lock; DuckDB spills
  inside the store's tmp/;
- a held store lock is announced with its holder's pid, and `--lock-timeout` bounds the wait.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import databuild.store
from augment.neighbors import NeighborsGenerator
from databuild.cli import app
from databuild.store import open_store

FIXTURE = Path(__file__).parent / "fixtures" / "teacher_logs.jsonl"
runner = CliRunner()


def snapshot(store: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--logs", str(FIXTURE), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_intent_pool_is_part_of_the_version_and_repaired_for_older_stores(tmp_path: Path) -> None:
    code, out, _ = snapshot(tmp_path)
    assert code == 0, out
    inside = tmp_path / "versions" / "v1" / "intent_pool.parquet"
    # the fixture's excluded intents: fire, the DROP TABLE text, nul byte (no_exports); morocco (incomplete_tools)
    pool = pl.read_parquet(inside)
    assert sorted(pool["reason"].to_list()) == ["incomplete_tools", "no_exports", "no_exports", "no_exports"]
    assert not (tmp_path / "cache" / "intent_pool").exists()  # nothing is written after the rename
    store = open_store(tmp_path)
    generator = NeighborsGenerator(store, "v1", pl.Series([], dtype=pl.String), show_progress=False)
    assert generator.pool.height == 4 and generator.pool_path == inside
    # a store written before the pool moved inside, killed before its pool was written: the re-run repairs it
    inside.unlink()
    code, out, _ = snapshot(tmp_path)
    assert code == 0 and "unchanged: identical to v1" in out
    repaired = tmp_path / "cache" / "intent_pool" / "v1.parquet"
    assert pl.read_parquet(repaired).equals(pool)
    assert NeighborsGenerator(store, "v1", pl.Series([], dtype=pl.String)).pool_path == repaired


def _work_dir(tmp: Path, name: str, age_s: float) -> Path:
    path = tmp / name
    (path / "rows").mkdir(parents=True)
    (path / "rows" / "data.arrow").write_bytes(b"x" * 1000)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_work_folders_of_killed_builds_are_swept_under_the_lock(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    killed_build = _work_dir(tmp, "build-killed", age_s=3600)
    killed_spill = _work_dir(tmp, "duckdb-killed", age_s=3600)
    # a second old and nobody holds its lock: a killed build's too (a work folder is created and locked under the
    # shared STORE/.workspaces.lock that the sweep takes exclusively, so none is ever between the two)
    young = _work_dir(tmp, "build-young", age_s=0)
    live = _work_dir(tmp, "build-live", age_s=3600)  # a long build still running: it holds its flock
    other = _work_dir(tmp, "notes", age_s=3600)  # a work folder of any other kind: swept as well (issue 23)
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        code, out, _ = snapshot(tmp_path)
    finally:
        os.close(fd)
    assert code == 0, out
    assert sorted(p.name for p in tmp.iterdir()) == [live.name]
    assert not killed_build.exists() and not killed_spill.exists() and not young.exists() and not other.exists()


def test_duckdb_spills_inside_the_store_and_sigterm_cleans_up(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(FIXTURE.read_bytes() * 400)  # 40,000 rows: a build of a few seconds
    store = tmp_path / "store"
    env = {**os.environ, "TMPDIR": str(tmp_path / "system-tmp")}
    (tmp_path / "system-tmp").mkdir()
    command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(logs), "--store", str(store)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(store.glob("tmp/duckdb-*")):  # the spill folder: in the store, made when the build starts
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and stderr.endswith("Error: interrupted\n"), stderr
    assert list((store / "tmp").iterdir()) == []
    assert not (store / "versions").exists() or list((store / "versions").iterdir()) == []
    assert list((tmp_path / "system-tmp").iterdir()) == []  # nothing in the system temp


def _hold_lock(store: Path) -> int:
    store.mkdir(parents=True, exist_ok=True)
    fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4242\n")  # as a holder writes its pid
    return fd


def test_a_held_store_lock_is_announced_and_lock_timeout_bounds_the_wait(tmp_path: Path) -> None:
    fd = _hold_lock(tmp_path)
    try:
        start = time.monotonic()
        code, _, stderr = snapshot(tmp_path, "--lock-timeout", "0.5")
        waited = time.monotonic() - start
    finally:
        os.close(fd)
    lock = tmp_path / ".lock"
    assert code == 1
    assert stderr == (
        "waiting for the store lock held by pid 4242\n"
        f"Error: gave up after 0.5 s waiting for the store lock held by pid 4242 ({lock})\n"
    )
    assert waited >= 0.5 and open_store(tmp_path).version_names() == []


def test_a_snapshot_waits_for_the_lock_and_then_publishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fd = _hold_lock(tmp_path)
    announce = databuild.store._print_wait

    def announce_then_release(message: str) -> None:
        announce(message)
        threading.Timer(0.3, os.close, args=(fd,)).start()  # the other process finishes a little later

    monkeypatch.setattr(databuild.store, "_print_wait", announce_then_release)
    code, out, stderr = snapshot(tmp_path, "--format", "json")
    assert code == 0, stderr
    assert stderr == "waiting for the store lock held by pid 4242\n"
    assert json.loads(out)["version"] == "v1"
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"  # the last holder
