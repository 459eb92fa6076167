"""`databuild snapshot --executor spark`: each file the cache lacks is computed in a Spark task, and the build
equals a local one (entries, rows, quarantine, accounting, fingerprint); what happens without pyspark or Java, and
with an entry lost or half-written on its way back.

The differential tests start one local[2] session for the module (through the executor's own `spark_session`,
which the commands then find running) and skip, with the reason, where pyspark or Java is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from databuild.cli import app
from databuild.errors import DatabuildError
from databuild.store import open_store
from pipelines.file_state import take_computed
from pipelines.snapshot import SnapshotOptions, _plan, validate
from pipelines.snapshot_cache import ENTRY_FILE, entry_dir
from tests.pipelines.incremental_days import DAY3, request, runner, snapshot, write_jsonl
from tests.pipelines.test_snapshot_incremental import outcome

DAY4 = [*request("g9", "r9", "golden hour", True, 10), DAY3[0]]  # DAY3[0] (c7a) again: a duplicate_event


def _spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'databuild[spark]')"
    from pipelines.spark_executor import require_java

    try:
        require_java()
    except DatabuildError as exc:
        return f"no Java for Spark: {exc}"
    return None


needs_spark = pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pipelines.spark_executor import spark_session

    with spark_session("local[2]", None) as session:
        yield session
    from pyspark import SparkContext

    gateway = SparkContext._gateway  # the JVM outlives a stopped session: end it, not kept for the rest of the suite
    if gateway is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()  # pyspark's gateway JVM exits when its stdin closes
        gateway.proc.wait(timeout=60)
        SparkContext._gateway = SparkContext._jvm = None


def entries(store: Path) -> dict[str, dict[str, Any]]:
    """Every `files` cache entry: each table's rows (in a canonical order) and its columns."""
    found: dict[str, dict[str, Any]] = {}
    for folder in sorted((store / "cache" / "snapshot" / "files").glob("*/*")):
        tables = {}
        for path in sorted(folder.glob("*.parquet")):
            frame = pl.read_parquet(path)
            tables[path.stem] = (frame.columns, frame.sort(frame.columns).to_dicts() if frame.columns else [])
        found[folder.name] = tables
    return found


def build(store: Path, logs: list[Path], *args: str) -> dict[str, Any]:
    report = snapshot(store, logs, "--seed", "7", *args)
    return {**outcome(store, report), "reuse": report["reuse"], "executor": report["executor"]}


@needs_spark
def test_spark_builds_equal_local_builds_then_a_fourth_day(tmp_path: Path, days: list[Path], spark: Any) -> None:
    local, on_spark = tmp_path / "local", tmp_path / "spark"
    spark_args = ("--executor", "spark", "--spark-master", "local[2]")
    first_local = build(local, days)
    # the three days' entries written by the tasks into the store; the fourth day's returned to the driver
    first_spark = build(on_spark, days, *spark_args, "--spark-entries", "store")
    assert first_spark["executor"]["tasks"] == 3 and first_spark["executor"]["entries"] == "store"
    assert first_local["executor"] == {"name": "local", "tasks": 0}
    assert {k: v for k, v in first_spark.items() if k != "executor"} == {
        k: v for k, v in first_local.items() if k != "executor"
    }
    # by hand (incremental_days.py): 23 rows, 4 duplicate_event: g1a and c1s of day2, its second g6a, g4f of day3
    assert first_spark["accounting"]["quarantined"] == {"duplicate_event": 4}
    assert first_spark["reuse"] == {"files_read": 3, "files_reused": 0, "rows_read": 23, "rows_reused": 0}
    assert len(entries(on_spark)) == 3 and entries(on_spark) == entries(local)

    day4 = write_jsonl(days[0].parent / "day4.jsonl", DAY4)
    second_local = build(local, [*days, day4])
    second_spark = build(on_spark, [*days, day4], *spark_args)
    assert second_spark["executor"]["tasks"] == 1 and second_spark["executor"]["entries"] == "driver"
    assert {k: v for k, v in second_spark.items() if k != "executor"} == {
        k: v for k, v in second_local.items() if k != "executor"
    }
    # day4: g9a, g9s, g9f valid; c7a repeats day3's first line -> 27 rows, 22 valid, duplicate_event 5
    assert second_spark["accounting"] == {
        "input_rows": 27,
        "valid_rows": 22,
        "quarantined": {"duplicate_event": 5},
        "outside_window": 0,
    }
    assert second_spark["reuse"] == {"files_read": 1, "files_reused": 3, "rows_read": 4, "rows_reused": 23}
    assert len(entries(on_spark)) == 4 and entries(on_spark) == entries(local)
    manifest = open_store(on_spark).manifest(open_store(on_spark).latest() or "")
    assert manifest["executor"]["name"] == "spark" and manifest["executor"]["tasks"] == 1


@needs_spark
def test_a_rerun_on_spark_starts_no_task(tmp_path: Path, days: list[Path], spark: Any) -> None:
    store = tmp_path / "store"
    build(store, days[:1])
    again = snapshot(store, days[:1], "--seed", "7", "--executor", "spark", "--spark-master", "local[2]")
    assert again["unchanged"] and again["executor"]["tasks"] == 0 and again["reuse"]["files_read"] == 0


@needs_spark
def test_a_task_that_fails_fails_the_build_with_one_line(tmp_path: Path, days: list[Path], spark: Any) -> None:
    """local[2] tries a task once; its Python error (DuckDB out of memory under 1 KB) is the build's one line."""
    store = tmp_path / "store"
    args = ("--store", str(store), "--logs", str(days[0]), "--memory-limit", "1KB")
    message = _error(*args, "--executor", "spark", "--spark-master", "local[2]")
    assert message.startswith("Error: a Spark task failed: ") and "Out of Memory Error" in message
    assert not (store / "versions").exists() and not list((store / "cache" / "snapshot" / "files").glob("*/*"))


def _error(*args: str) -> str:
    result = runner.invoke(app, ["snapshot", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr.strip()


def test_without_pyspark_one_error_gives_the_pip_command(
    tmp_path: Path, days: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    message = _error("--store", str(tmp_path / "s"), "--logs", str(days[0]), "--executor", "spark")
    assert message == "Error: --executor spark needs pyspark: pip install 'databuild[spark]'"
    assert not (tmp_path / "s" / "versions").exists()


def test_without_java_one_error_says_so(tmp_path: Path, days: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark", reason="pyspark is not installed: the pyspark error comes first")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    args = ("--store", str(tmp_path / "s"), "--logs", str(days[0]), "--executor", "spark")
    assert _error(*args, "--spark-master", "local[2]") == (
        "Error: --executor spark needs Java 17 or newer: no java on PATH and JAVA_HOME is not set "
        "(or use --spark-remote sc://… to run on a Spark Connect server)"
    )
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert (
        _error(*args)
        == f"Error: --executor spark needs Java 17 or newer: JAVA_HOME={tmp_path / 'jdk'} holds no bin/java"
    )


def test_spark_options_need_the_spark_executor(tmp_path: Path, days: list[Path]) -> None:
    args = ("--store", str(tmp_path / "s"), "--logs", str(days[0]))
    assert _error(*args, "--spark-master", "local[2]") == "Error: --spark-master needs --executor spark"
    assert _error(*args, "--spark-entries", "store") == "Error: --spark-entries needs --executor spark"
    assert _error(*args, "--spark-conf", "spark.executor.memory=2g") == "Error: --spark-conf needs --executor spark"
    assert _error(*args, "--executor", "dask") == "Error: --executor must be one of local, spark, not 'dask'"
    assert _error(*args, "--executor", "spark", "--spark-conf", "spark.executor.memory") == (
        "Error: --spark-conf must be KEY=VALUE, e.g. spark.executor.memory=4g, not 'spark.executor.memory'"
    )
    both = ("--spark-master", "local[2]", "--spark-remote", "sc://localhost")
    assert _error(*args, "--executor", "spark", *both) == "Error: give --spark-master or --spark-remote, not both"


def test_an_entry_lost_or_half_written_is_read_here(tmp_path: Path, days: list[Path]) -> None:
    """What the driver does after the tasks: a complete entry is merged from the cache; a missing one and one
    without its entry.json (a copy cut short) are read by the driver, each with a warning."""
    store = open_store(tmp_path / "store")
    snapshot(store.root, days[:1])  # day1's entry, complete
    options = SnapshotOptions(logs=[str(d) for d in days])
    from databuild.pack import colour_pack
    from pipelines.gateway import load_side_inputs
    from pipelines.input_hashes import InputHashes
    from pipelines.inputs import resolve_inputs

    side = load_side_inputs(options.gateway_settings(), InputHashes(None))
    plan = _plan(store, resolve_inputs(options.logs), colour_pack(), *validate(options), False, print, side)
    assert [p.read for p in plan] == [False, True, True]
    half = entry_dir(store, "files", plan[2].key)
    shutil.copytree(entry_dir(store, "files", plan[0].key), half)
    (half / ENTRY_FILE).unlink()
    warnings: list[str] = []
    left = take_computed(store, plan, warnings.append)
    assert [p.item.path.name for p in left] == ["day2.jsonl", "day3.jsonl"]
    assert [p.read for p in plan] == [False, True, True]
    assert warnings[0] == f"warning: no cache entry came back for {days[1]}; reading it here"
    assert warnings[1].startswith(f"warning: ignoring snapshot cache entry {half} (unreadable")
    assert len(warnings) == 2
    json.dumps(warnings)  # plain text


def test_each_task_gets_a_share_of_the_memory_and_its_cores() -> None:
    from pipelines.spark_executor import _concurrency, task_memory

    assert _concurrency(None, "local[2]") == 2 and _concurrency(None, "local[4,3]") == 4
    assert _concurrency(None, "local[*]") == (os.cpu_count() or 1)
    given = SnapshotOptions(logs=[], memory_limit="1GB")
    assert task_memory(given, "4g", 2) == "1GB"  # --memory-limit is per task, as given
    assert task_memory(SnapshotOptions(logs=[]), "4g", 2) == "2048MB"  # spark.executor.pyspark.memory over 2 tasks
    assert task_memory(SnapshotOptions(logs=[]), "1536m", 3) == "512MB"
    assert task_memory(SnapshotOptions(logs=[]), None, 2) is None  # the worker's own default, shared (in the task)
