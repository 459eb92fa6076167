"""`databuild snapshot --executor spark`: the input files the cache lacks are computed in Spark tasks.

One file per task, largest first (`spark.range` with one partition per file, then `mapInArrow`, which Spark Connect
runs too). Each task runs DuckDB (`pipelines.file_state.compute_file_entry`) with the task's cores and a share of
the executor's memory, then either writes the entry into the store's cache itself (`entries="store"`: the store is
on a filesystem every worker mounts at the same path) or returns it to the driver as Arrow (`entries="driver"`: the
entry's Parquet files as binary chunks, written into the cache here). The driver then merges and publishes exactly
as a local build does (`pipelines.snapshot.build_snapshot`). A failed task is retried by Spark; an entry that is
lost or half-written is not trusted (`take_computed`): the driver reads that file itself.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.pack import ToolPack
from databuild.store import Store
from pipelines.file_state import compute_file_entry, take_computed
from pipelines.inputs import InputFile
from pipelines.snapshot import FilePlan, SnapshotOptions, default_memory_limit
from pipelines.snapshot_cache import FILE_TABLES, entry_dir, entry_problem, put_in_place

EXECUTORS = ("local", "spark")
ENTRIES = ("driver", "store")
PIP_COMMAND = "pip install 'databuild[spark]'"
TASK_SCHEMA = "key string, part int, name string, data binary, seconds double"
CHUNK_BYTES = 8 << 20  # an entry file travels to the driver in pieces of at most this size (one Arrow batch each)


@dataclass(frozen=True)
class FileTask:
    """What one task needs to know of its file (the closure Spark ships to the workers)."""

    item: InputFile
    key: str
    size: int


@dataclass
class SparkExecutor:
    """Computes the missing entries on Spark: on `session` (an existing SparkSession), else on a session started
    for the build, on `remote` (Spark Connect, sc://…) or `master` (local[N], spark://…; None: Spark's own
    configuration, e.g. spark-submit's --master), which is stopped when the entries are computed."""

    master: str | None = None
    remote: str | None = None
    session: Any = None
    entries: str = "driver"
    conf: dict[str, str] = field(default_factory=dict)  # settings of a session started here, e.g. spark.archives

    def __post_init__(self) -> None:
        if self.entries not in ENTRIES:
            raise DatabuildError(f"--spark-entries must be one of {', '.join(ENTRIES)}, not {self.entries!r}")
        if self.master is not None and self.remote is not None:
            raise DatabuildError("give --spark-master or --spark-remote, not both")
        if self.session is None:
            require_pyspark()
            if self.remote is None:
                require_java()

    def where(self) -> str:
        return self.remote or self.master or ("session" if self.session is not None else "default")

    def compute_entries(
        self, store: Store, plan: list[FilePlan], pack: ToolPack, options: SnapshotOptions, warn: Callable[[str], None]
    ) -> dict[str, Any]:
        tasks = file_tasks(plan)
        seconds: list[float] = []
        started = time.perf_counter()
        if tasks:
            with self._spark() as spark:
                seconds = run_tasks(spark, tasks, pack, options, store, self.entries, _concurrency(spark, self.master))
        take_computed(store, plan, warn)
        return {
            "name": "spark",
            "master": self.where(),
            "entries": self.entries,
            "tasks": len(tasks),
            "seconds": round(time.perf_counter() - started, 3),  # the session's start, the tasks, the entries' return
            "task_seconds": {"total": round(sum(seconds), 3), "max": round(max(seconds, default=0.0), 3)},
        }

    @contextmanager
    def _spark(self) -> Iterator[Any]:
        if self.session is not None:
            yield self.session
            return
        with spark_session(self.master, self.remote, self.conf) as spark:
            yield spark


def file_tasks(plan: list[FilePlan]) -> list[FileTask]:
    """The files to read, one task per distinct entry (the same bytes given twice are read once), largest first."""
    seen: dict[str, FileTask] = {}
    for p in plan:
        if p.read and p.key not in seen:
            seen[p.key] = FileTask(p.item, p.key, p.item.path.stat().st_size)
    return sorted(seen.values(), key=lambda task: (-task.size, task.item.order))


def parse_conf(settings: list[str]) -> dict[str, str]:
    """`--spark-conf KEY=VALUE` settings as a dict (the last one given wins)."""
    conf = {}
    for setting in settings:
        key, equals, value = setting.partition("=")
        if not equals or not key.strip():
            raise DatabuildError(f"--spark-conf must be KEY=VALUE, e.g. spark.executor.memory=4g, not {setting!r}")
        conf[key.strip()] = value
    return conf


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise DatabuildError(f"--executor spark needs pyspark: {PIP_COMMAND}") from None


def require_java() -> None:
    """Spark's JVM is started by spark-submit, which takes $JAVA_HOME/bin/java, else `java` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if java is not None and not os.access(java, os.X_OK):
        raise DatabuildError(f"--executor spark needs Java 17 or newer: JAVA_HOME={java_home} holds no bin/java")
    if java is None and shutil.which("java") is None:
        raise DatabuildError(
            "--executor spark needs Java 17 or newer: no java on PATH and JAVA_HOME is not set "
            "(or use --spark-remote sc://… to run on a Spark Connect server)"
        )


@contextmanager
def spark_session(master: str | None, remote: str | None, conf: dict[str, str] | None = None) -> Iterator[Any]:
    """A session for the build: one already active in this process on the same master (left running), else a new
    one with `conf`, stopped at the end. A local master gets SPARK_LOCAL_IP=127.0.0.1 (hosts whose name resolves
    to loopback) and this Python for its workers, unless set already."""
    from pyspark.sql import SparkSession

    if remote is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            running = active.sparkContext.master
            if master is not None and running != master:
                raise DatabuildError(f"a SparkSession on {running} is already running here, not on {master}")
            yield active
            return
    builder = SparkSession.builder.appName("databuild snapshot")
    if remote is not None:
        builder = builder.remote(remote)
    else:
        if master is not None and master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.ui.enabled", "false")  # a build's job is short: no web UI to start
        if master is not None:
            builder = builder.master(master)
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = _started(builder, remote or master)
    try:
        yield spark
    finally:
        spark.stop()


def _started(builder: Any, where: str | None) -> Any:
    try:
        with _no_pandas_notice():
            spark = builder.getOrCreate()
    except Exception as exc:  # pyspark raises its own types for a JVM that did not start or a server not reached
        where = where or "the default master"
        raise DatabuildError(f"could not start a Spark session on {where}: {_brief(exc)}") from None
    if hasattr(spark, "sparkContext") and not _is_connect(spark):
        spark.sparkContext.setLogLevel("FATAL")  # a failed task is reported once, as `Error: …`
    return spark


@contextmanager
def _no_pandas_notice() -> Iterator[None]:
    """pyspark's FutureWarning that it does not yet support pandas 3: nothing here goes through pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _concurrency(spark: Any, master: str | None) -> int:
    """How many tasks run at once on one worker machine, to share its memory between them: N for local[N] (every
    core for local[*]), else the executor's cores over the cores per task."""
    running = master or _conf(spark, "spark.master") or ""
    if running.startswith("local"):
        inside = running.partition("[")[2].partition("]")[0].split(",")[0]
        return os.cpu_count() or 1 if inside in ("", "*") else max(1, int(inside))
    cores = int(_conf(spark, "spark.executor.cores") or 1)
    return max(1, cores // int(_conf(spark, "spark.task.cpus") or 1))


def _conf(spark: Any, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:  # Spark Connect may refuse to show a static setting
        return None


def task_memory(options: SnapshotOptions, pyspark_memory: str | None, concurrency: int) -> str | None:
    """Each task's DuckDB memory limit: --memory-limit as given, else the executor's spark.executor.pyspark.memory
    shared by its concurrent tasks, else None (the worker takes its own default over `concurrency`)."""
    if options.memory_limit:
        return options.memory_limit
    if pyspark_memory:
        return f"{max(64, _megabytes(pyspark_memory) // concurrency)}MB"
    return None


def _megabytes(size: str) -> int:
    """A JVM-style size (512m, 2g, 1024k, a number of MiB) in MiB."""
    text = size.strip().lower().removesuffix("b")
    scale = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def run_tasks(
    spark: Any,
    tasks: list[FileTask],
    pack: ToolPack,
    options: SnapshotOptions,
    store: Store,
    entries: str,
    concurrency: int,
) -> list[float]:
    """Run one task per file and put every returned entry in place; returns each task's seconds."""
    memory = task_memory(options, _conf(spark, "spark.executor.pyspark.memory"), concurrency)
    work = functools.partial(
        compute_partition,
        tasks=tasks,
        pack=pack,
        options=options,
        store_root=str(store.root) if entries == "store" else None,
        memory_limit=memory,
        concurrency=concurrency,
    )
    try:
        with _no_pandas_notice():
            frame = spark.range(0, len(tasks), 1, numPartitions=len(tasks)).mapInArrow(work, TASK_SCHEMA)
            table = frame.toArrow()
    except Exception as exc:  # a task failed more often than Spark retries it
        raise DatabuildError(f"a Spark task failed: {_brief(exc)}") from None
    if entries == "driver":
        write_returned(store, table, overwrite=options.full)
    firsts = zip(table["seconds"].to_pylist(), table["part"].to_pylist(), strict=True)
    return [float(seconds) for seconds, part in firsts if part == 0]


def compute_partition(
    batches: Iterator[Any],
    tasks: list[FileTask],
    pack: ToolPack,
    options: SnapshotOptions,
    store_root: str | None,
    memory_limit: str | None,
    concurrency: int,
) -> Iterator[Any]:
    """In a Spark task: compute the entry of each file whose index comes in `batches` (one, by construction)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    threads = context.cpus() if context is not None else 1
    memory = memory_limit or f"{max(64, int(default_memory_limit().removesuffix('MB')) // concurrency)}MB"
    for batch in batches:
        for index in batch.column(0).to_pylist():
            task = tasks[index]
            if store_root is not None:
                started = time.perf_counter()
                compute_file_entry(task.item, pack, options, Store(Path(store_root)), memory, threads)
                yield _rows(task.key, [(0, "", b"")], time.perf_counter() - started)
            else:
                yield from _returned_entry(task, pack, options, memory, threads)


def _returned_entry(
    task: FileTask, pack: ToolPack, options: SnapshotOptions, memory: str, threads: int
) -> Iterator[Any]:
    """The entry computed into a scratch store on the worker, then sent as (file name, chunk) rows."""
    with tempfile.TemporaryDirectory(prefix="databuild-task-") as scratch:
        started = time.perf_counter()
        folder = compute_file_entry(task.item, pack, options, Store(Path(scratch)), memory, threads)
        seconds = time.perf_counter() - started
        part = 0
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()
            for offset in range(0, max(len(data), 1), CHUNK_BYTES):
                yield _rows(task.key, [(part, path.name, data[offset : offset + CHUNK_BYTES])], seconds)
                part += 1


def _rows(key: str, chunks: list[tuple[int, str, bytes]], seconds: float) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(
        [
            pa.array([key] * len(chunks), pa.string()),
            pa.array([part for part, _, _ in chunks], pa.int32()),
            pa.array([name for _, name, _ in chunks], pa.string()),
            pa.array([data for _, _, data in chunks], pa.binary()),
            pa.array([seconds] * len(chunks), pa.float64()),
        ],
        names=["key", "part", "name", "data", "seconds"],
    )


def write_returned(store: Store, table: Any, overwrite: bool) -> None:
    """Put each entry returned by the tasks in place: its files staged in tmp/, checked against its entry.json
    (sizes, rows, columns: a piece lost on the way is never trusted), then renamed into the cache."""
    for key in sorted(set(table["key"].to_pylist())):
        rows = sorted((r["part"], r["name"], r["data"]) for r in table.filter(_key_is(table, key)).to_pylist())
        final = entry_dir(store, "files", key)
        if final.exists() and not overwrite and entry_problem(final, key, FILE_TABLES) is None:
            continue
        with store.workspace("build-entry-") as staging:
            for _, name, data in rows:
                with open(staging / name, "ab") as handle:
                    handle.write(data)
            if entry_problem(staging, key, FILE_TABLES) is None:
                put_in_place(store, staging, final)


def _key_is(table: Any, key: str) -> Any:
    import pyarrow.compute as pc

    return pc.equal(table["key"], key)


def _brief(exc: BaseException) -> str:
    """The Python error a task raised (the last `Type: message` line of its traceback), else the first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if _looks_like_error(line)]
    return (errors[-1] if errors else lines[0] if lines else type(exc).__name__)[:500]


def _looks_like_error(line: str) -> bool:
    name = line.partition(":")[0]
    return name.endswith(("Error", "Exception")) and " " not in name
