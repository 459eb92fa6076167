"""Snapshot: teacher logs -> export-maximizing ground truth -> a new dataset version.

The pipeline is the list of SQL models in `STEPS`, run in order on one DuckDB connection; Polars and
`pipelines.emit` then write the version. Every input row ends up valid or quarantined with one reason.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from databuild.contracts import spread_tools, used_all
from databuild.display import visible
from databuild.errors import DatabuildError
from databuild.normalize import MAX_INTENT_CHARS, normalize_intent
from databuild.pack import ToolPack, colour_pack, load_pack
from databuild.sqlrun import connect, run_model, sql_hashes
from databuild.store import INTENT_POOL_FILE, Store, replacing
from pipelines.emit import Published, publish_version
from pipelines.file_outcomes import file_outcomes, no_valid_rows, nothing_valid_warnings
from pipelines.gateway import GatewaySettings, SideInputs, load_side_inputs, outcome_report
from pipelines.input_hashes import InputHashes
from pipelines.inputs import InputFile, load_jsonl_lines, resolve_inputs
from pipelines.log_formats import FormatChoice, check_log_format, parse_pair_keys
from pipelines.logged_pack import FROM_LOGS, read_logged_pack
from pipelines.quarantine_base import find_base, remember
from pipelines.slim_lines import request_keys
from pipelines.snapshot_cache import (
    TableChecksums,
    cache_keys,
    entry_dir,
    entry_table,
    prepare_cache,
    results_keys,
    valid_entries,
    write_entries,
    write_placeholders,
)
from pipelines.snapshot_quarantine import QuarantinePosition, VersionQuarantine
from pipelines.snapshot_results import CarriedResult, find_carried, keep_results, stage_results

if TYPE_CHECKING:
    from pipelines.file_state import FileExecutor

QUARANTINE_REASONS = (
    "bad_record",
    "not_a_generation",
    "teacher_error",
    "missing_field",
    "bad_type",
    "follow_up",
    "redacted",
    "other_model",
    "duplicate_event",
    "unknown_tool",
    "repeated_tool",
    "empty_intent",
    "intent_too_long",
    "no_json",
    "invalid_json",
    "schema_violation",
)
EXCLUSION_REASONS = ("no_exports", "incomplete_tools")
MEMORY_LIMIT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:[KMGT](?:i?B)?|B|%)", re.IGNORECASE)
RANKS = ("raw", "wilson")
BATCH_ROWS = 2_000_000  # a build reads its files this many rows at a time (`_merge_state`): best at 800 MB since a
# batch's entries are written beside the next batch (2 M against 3 M: 4 % less for 10 daily files, 2-6 % for 30)
JSONL_LINE_BYTES = 256  # a JSON Lines file's rows are estimated from its size, to size the batches only
GZIP_RATIO = 5
# (model, what it reads -> what it writes): the pipeline, top to bottom. Each file `sql/NN_<name>.sql` writes the one
# table, view, macro or variable <name> (tests/test_architecture.py checks it). Models up to 31 read the input files
# that are not cached (per file: nothing depends on the other files); 32-42 join them with the cached state of the
# others and find what the order of the files adds (repeats of earlier files' events, first requests); 43-80 merge
# every file's state into the version, carrying the intents the new files do not touch from an earlier build. A cache
# entry is keyed by the models of its stage and of the stages before it (`pipelines.snapshot_cache.model_stage`;
# 36-37, which write a file's rejected rows, belong to the file's own state).
STEPS = (
    ("01_parquet_files", "--logs (the Parquet files read now) -> parquet_files"),
    ("02_parquet_globs", "parquet_files (or an empty file) -> parquet_globs"),
    ("03_iso_instant", "-> iso_instant()"),
    ("04_outcomes", "outcome_records (--outcomes) -> outcomes"),
    ("05_raw_jsonl", "raw_lines -> raw_jsonl"),
    ("06_raw_parquet", "parquet files -> raw_parquet"),
    ("07_content_text", "-> content_text()"),
    ("07_conversation", "-> conversation()"),
    ("07_assistant_message", "-> assistant_message()"),
    ("07_last_user_text", "-> last_user_text()"),
    ("07_offered_tools", "-> offered_tools()"),
    ("07_arguments_text", "-> arguments_text()"),
    ("07_chat_calls", "-> chat_calls()"),
    ("07_chat_calls_ok", "-> chat_calls_ok()"),
    ("07_openai_completions", "gateway_lines, batch_lines -> openai_completions"),
    ("07_litellm_completions", "gateway_lines -> litellm_completions"),
    ("07_langfuse_completions", "gateway_lines -> langfuse_completions"),
    ("08_completions", "the *_completions -> completions"),
    ("08_raw_gateway", "completions, outcomes -> raw_gateway"),
    ("09_raw", "raw_jsonl, raw_parquet, raw_gateway -> raw"),
    ("10_calls", "raw -> calls"),
    ("15_output_texts", "calls -> output_texts (distinct json tails)"),
    ("20_parsed_outputs", "output_texts -> parsed_outputs"),
    ("22_intents", "calls -> intents (normalized, with ids)"),
    ("25_checked_calls", "calls, intents, output_texts, parsed_outputs -> checked_calls (duplicates within a file)"),
    ("26_file_candidates", "checked_calls, intents, parsed_outputs -> file_candidates"),
    ("27_file_requests", "checked_calls, intents -> file_requests"),
    ("28_file_events", "event_lines (25_checked_calls) -> file_events"),
    ("29_file_surfaces", "checked_calls, intents -> file_surfaces"),
    ("31_file_accounting", "raw, checked_calls -> file_accounting"),
    ("32_cached_table", "build_files, cache entries -> cached_table()"),
    ("32_no_context_cached", "build_files -> no_context_cached"),
    ("33_all_candidates", "cached_table(), file_candidates -> all_candidates"),
    ("33_all_requests", "cached_table(), file_requests -> all_requests"),
    ("33_all_events", "cached_table(), file_events -> all_events"),
    ("33_all_surfaces", "cached_table(), file_surfaces -> all_surfaces"),
    ("33_all_accounting", "cached_table(), file_accounting -> all_accounting"),
    ("34_corrections", "all_events, no_context_cached -> corrections (repeats of an earlier file's event)"),
    ("35_correction_rows", "corrections, checked_calls -> correction_rows"),
    ("36_rejected", "checked_calls, corrections -> rejected"),
    ("37_file_quarantine", "rejected, raw_jsonl, parquet files -> file_quarantine"),
    ("39_cached_context", "build_files, cache entries -> cached_context()"),
    ("40_all_corrections", "cached_context(), correction_rows -> all_corrections"),
    ("40_all_correction_quarantine", "cached_context(), file_quarantine -> all_correction_quarantine"),
    ("41_first_pairs", "all_requests, all_corrections, no_context_cached -> first_pairs"),
    ("42_all_first_pairs", "cached_context(), first_pairs -> all_first_pairs"),
    ("43_touched_intents", "all_candidates, all_surfaces, all_first_pairs, all_corrections -> touched_intents"),
    ("43_carried", "results entry, touched_intents -> carried()"),
    ("44_candidates", "all_candidates, all_corrections, touched_intents -> candidates"),
    ("45_intent_stats", "candidates, all_surfaces, all_corrections, all_first_pairs, carried() -> intent_stats"),
    ("47_ground_truth", "candidates, intent_stats -> ground_truth"),
    ("50_split", "intent_stats, touched_intents -> split"),
    ("60_rows", "ground_truth, intent_stats, split, carried() -> rows"),
    ("70_quarantine_of", "file_quarantine, all_corrections, all_correction_quarantine -> quarantine_of()"),
    ("80_accounting", "all_accounting, all_corrections, intent_stats -> accounting"),
)
MODELS = [model for model, _ in STEPS]
LOCAL_EXECUTION = {"name": "local", "tasks": 0}  # the manifest's `executor` of a build that reads its files itself
# per-row tables (`table`) and columns (`table.column`: DuckDB frees a dropped column at once) dropped once their last
# reader has run: their memory (or spill files) serve the models after it. The JSON tails and raw intents are half
# of `calls`' bytes, which 25_checked_calls would otherwise read back from spill files beside its own tables.
RELEASED_AFTER = {
    "08_raw_gateway": ("openai_completions", "litellm_completions", "langfuse_completions"),
    "22_intents": ("calls.json_tail", "calls.intent_raw"),
    "25_checked_calls": ("calls",),
    "36_rejected": ("checked_calls",),
}
HASHED = {"15_output_texts": "output_texts", "22_intents": "intents"}  # tables whose texts are joined by hash


@dataclass(frozen=True)
class SnapshotOptions:
    logs: list[str]
    since: str | None = None
    until: str | None = None
    rank: str = "raw"
    test_fraction: float = 0.1
    seed: int = 0
    memory_limit: str | None = None
    tools: str | None = None  # a tool pack file, or 'from-logs' (the tools the requests offered); None: colour
    full: bool = False  # ignore the per-file cache: read every file again (and refresh its entries)
    lock_timeout: float | None = None
    log_format: str = "auto"  # pipelines.log_formats
    pair_keys: str | None = None  # REQ,RESP
    batch_input: str | None = None
    outcomes: tuple[str, ...] = ()
    outcome_name: str = "exported"
    outcome_threshold: float = 1.0
    outcome_field: str | None = None
    teacher_models: tuple[str, ...] = ()

    def pack(self) -> ToolPack:
        return load_pack(self.tools) if self.tools else colour_pack()

    def format_choice(self) -> FormatChoice:
        return FormatChoice(self.log_format, parse_pair_keys(self.pair_keys))

    def gateway_settings(self) -> GatewaySettings:
        return GatewaySettings(
            parse_pair_keys(self.pair_keys), self.batch_input, tuple(self.outcomes), self.outcome_name,
            self.outcome_threshold, self.outcome_field, tuple(self.teacher_models),
        )  # fmt: skip

    def shaping(self) -> dict[str, Any]:
        """The options that shape the rows (they enter the fingerprint; paths and timestamps do not)."""
        return {
            "since": self.since,
            "until": self.until,
            "rank": self.rank,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
        }


@dataclass
class SnapshotResult:
    published: Published
    accounting: dict[str, Any]
    intents: dict[str, Any]
    used_all: dict[str, dict[str, Any]]
    reuse: dict[str, int] = field(default_factory=dict)  # files_read, files_reused, rows_read, rows_reused
    inputs: list[dict[str, Any]] = field(default_factory=list)  # the manifest's inputs (path, format, file_type…)
    outcomes: dict[str, Any] | None = None  # pipelines.gateway.outcome_report; None: no outcomes given
    executor: dict[str, Any] = field(default_factory=lambda: dict(LOCAL_EXECUTION))  # where the files were read


def test_threshold(test_fraction: float) -> int:
    """ceil(test_fraction · 2⁶⁴) exactly, so `h < threshold` ⟺ `h < test_fraction · 2⁶⁴` for integers h."""
    return math.ceil(Fraction(test_fraction) * 2**64)


def _parse_bound(value: str | None, name: str, end: bool) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:  # a date: --until includes that whole day
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DatabuildError(f"--{name} must be an ISO date such as 2024-05-01, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validate(options: SnapshotOptions) -> tuple[datetime | None, datetime | None]:
    if options.rank not in RANKS:
        raise DatabuildError(f"--rank must be one of {', '.join(RANKS)}, not {options.rank!r}")
    if not 0.0 <= options.test_fraction <= 1.0 or math.isnan(options.test_fraction):
        raise DatabuildError(f"--test-fraction must be between 0 and 1, not {options.test_fraction}")
    _check_memory_limit(options.memory_limit)
    check_log_format(options.log_format)
    parse_pair_keys(options.pair_keys)
    if not math.isfinite(options.outcome_threshold):
        raise DatabuildError(f"--outcome-threshold must be a number, not {options.outcome_threshold}")
    if options.lock_timeout is not None and not 0 <= options.lock_timeout < math.inf:
        raise DatabuildError(f"--lock-timeout must be a number of seconds >= 0, not {options.lock_timeout}")
    since = _parse_bound(options.since, "since", end=False)
    until = _parse_bound(options.until, "until", end=True)
    if since and until and since >= until:
        raise DatabuildError("--since must be before --until")
    return since, until


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_memory_limit(value: str | None) -> None:
    """A positive size (DuckDB reads '-1GB' and '-5' as no limit at all)."""
    match = MEMORY_LIMIT.fullmatch(value.strip()) if value is not None else None
    if value is not None and (match is None or float(match.group(1)) <= 0):
        raise DatabuildError(f"--memory-limit must be a positive size such as 800MB or 2GB, not {value!r}")


def _register_normalizer(con: Any) -> None:
    """normalize_intent() and strip_surface(): Python's own string functions, run on distinct raw intents only
    (exact by construction: DuckDB has no NFKC, casefold or Unicode-whitespace strip)."""
    import duckdb

    # no annotations: duckdb inspects them, and these take and return pyarrow arrays
    def normalize_batch(texts):  # type: ignore[no-untyped-def]
        return _arrow_strings([None if t is None else normalize_intent(t) for t in texts.to_pylist()])

    def strip_batch(texts):  # type: ignore[no-untyped-def]
        return _arrow_strings([None if t is None else t.strip() for t in texts.to_pylist()])

    for name, function in (("strip_surface", strip_batch), ("normalize_intent", normalize_batch)):
        varchar = duckdb.sqltype("VARCHAR")
        con.create_function(name, function, [varchar], varchar, type="arrow", side_effects=False)


def _arrow_strings(values: list[str | None]) -> Any:
    """A PyArrow (large) string array of `values`, built by Polars, that DuckDB reads as VARCHAR: `pa.array` on a
    list imports pandas first (to ask whether the list is a pandas object), and a cast to `pa.string()` imports
    `pyarrow.compute`; 0.2 s together of a small build's start."""
    return pl.Series(values, dtype=pl.String).to_arrow()


def build_snapshot(
    store: Store,
    options: SnapshotOptions,
    command: str,
    on_step: Callable[[str], None] = lambda step: None,
    warn: Callable[[str], None] = lambda message: None,
    executor: FileExecutor | None = None,
) -> SnapshotResult:
    """Build a version. `executor` (None: this process) computes the entries of the files the cache lacks first,
    e.g. `pipelines.spark_executor.SparkExecutor`; the merge and the publication run here either way."""
    since, until = validate(options)
    pack = None if options.tools == FROM_LOGS else options.pack()
    prepare_cache(store, warn)  # the work folders a killed build left behind; no link on the cache's way
    hashes = InputHashes(store.input_hashes_path, warn)
    inputs = resolve_inputs(options.logs, hashes, options.format_choice())
    side = load_side_inputs(options.gateway_settings(), hashes)
    hashes.save()
    if pack is None:
        pack = read_logged_pack(inputs, warn, options.memory_limit, side)
    checksums = TableChecksums(store.table_checksums_path, warn)
    build = (store, options, command, on_step, warn, executor, pack, inputs, side, (since, until))
    try:
        result = _build(*build, checksums)
    except UnreadableFile:
        if not checksums.vouched:
            raise
        # a table the memo vouched for, unchanged in its identity, did not read: damage beneath the file system
        # (a disk's bit flip moves no time). Every table is checked again, the damaged entry ignored and rebuilt.
        checksums.forget()
        result = _build(*build, checksums)
    checksums.save()
    return result


class UnreadableFile(DatabuildError):
    """DuckDB could not read a file the build reads (an input, or a cache table)."""


def _unreadable(exc: Exception) -> bool:
    """Whether a DuckDB error is a file it could not read or write: an I/O or input error, or the plain `Error` its
    Parquet reader raises for a damaged footer or page header (`TProtocolException`, a varint over 10 bytes)."""
    import duckdb

    return isinstance(exc, duckdb.IOException | duckdb.InvalidInputException) or type(exc) is duckdb.Error


def _build(
    store: Store,
    options: SnapshotOptions,
    command: str,
    on_step: Callable[[str], None],
    warn: Callable[[str], None],
    executor: FileExecutor | None,
    pack: ToolPack,
    inputs: list[InputFile],
    side: SideInputs,
    window: tuple[datetime | None, datetime | None],
    checksums: TableChecksums,
) -> SnapshotResult:
    import duckdb

    since, until = window
    plan = _plan(store, inputs, pack, since, until, options.full, warn, side, checksums)
    executed = executor.compute_entries(store, plan, pack, options, warn) if executor else LOCAL_EXECUTION
    memory_limit = options.memory_limit or default_memory_limit()
    sessions: list[Any] = []  # every DuckDB connection opened, closed before the spill folder goes
    # DuckDB spills here past its memory limit: in the store's tmp/, removed when the build ends (or swept)
    with store.workspace("duckdb-") as spill_dir:

        def open_session() -> Any:
            con = connect(
                memory_limit=memory_limit, threads=default_threads(), temp_directory=str(spill_dir), pack=pack
            )
            sessions.append(con)
            return con

        try:
            placeholders = write_placeholders(spill_dir / "placeholders")
            keys = _results_keys(options, plan)
            carried = None if options.full else find_carried(store, keys, spill_dir / "carried", warn)
            reading = Reading(store, options, (since, until), placeholders, open_session, carried, side)
            con = _merge_state(reading, plan, on_step)
            quarantine = _version_quarantine(store, options, con, plan, placeholders["no_entry"], warn, checksums)
            return _finish(store, options, pack, command, on_step, quarantine, plan, warn, side, executed, checksums)
        except duckdb.OutOfMemoryException as exc:
            limit = options.memory_limit or f"{memory_limit} (the default)"
            raise DatabuildError(
                f"the build ran out of memory under --memory-limit {limit} ({_first_line(exc)})"
            ) from None
        except duckdb.Error as exc:  # e.g. a Parquet file corrupt inside
            if not _unreadable(exc):
                raise
            raise UnreadableFile(f"the build could not read or write a file: {_first_line(exc)}") from None
        finally:
            for con in sessions:
                con.close()  # before the spill folder goes: an interrupted query must not write into it again


@dataclass
class FilePlan:
    """One input file in this build: its cache entries (None: absent or unusable) and whether it is read now."""

    item: InputFile
    key: str
    context_key: str
    entry: Path | None
    context: Path | None
    read: bool
    read_in_batch: bool = False  # read by an earlier batch of this build (then cached: `read` is False)


def _plan(
    store: Store,
    inputs: list[InputFile],
    pack: ToolPack,
    since: datetime | None,
    until: datetime | None,
    full: bool,
    warn: Callable[[str], None],
    side: SideInputs,
    checksums: TableChecksums | None = None,
) -> list[FilePlan]:
    keys = cache_keys([side.file_key(i) for i in inputs], pack.sha256, since, until, MAX_INTENT_CHARS)
    wanted = [pair for key, context_key in zip(keys.files, keys.contexts, strict=True)
              for pair in (("files", key), ("contexts", context_key))]  # fmt: skip
    found = [None] * len(wanted) if full else valid_entries(store, wanted, warn, checksums)
    return [
        FilePlan(item, key, context_key, entry, context, read=entry is None)
        for item, key, context_key, entry, context in zip(
            inputs, keys.files, keys.contexts, found[0::2], found[1::2], strict=True
        )
    ]


def default_memory_limit() -> str:
    """A quarter of the machine's memory, at most 800 MB (peak RSS stays near 1.5 GB), at least 256 MB."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(256, min(total // 4 >> 20, 800))}MB"


def default_threads() -> int:
    """The cores this process may run on (a container's or a taskset's share, not the whole machine)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _results_keys(options: SnapshotOptions, plan: list[FilePlan]) -> list[str]:
    """The results entry key of the build's first 1, 2, … files (`pipelines.snapshot_results`)."""
    context_keys = [p.context_key for p in plan]
    return results_keys(context_keys, options.rank, options.seed, test_threshold(options.test_fraction))


@dataclass(frozen=True)
class Reading:
    """What reading files needs, whichever of the build's files it reads: the store, the options, the --since/--until
    window, the placeholder files of read_parquet lists, how to open a DuckDB session, and the earlier build's
    result the merge carries (None: every intent is computed)."""

    store: Store
    options: SnapshotOptions
    window: tuple[datetime | None, datetime | None]
    placeholders: dict[str, str]
    open_session: Callable[[], Any]
    carried: CarriedResult | None = None
    side: SideInputs | None = None  # pipelines.gateway: outcomes, the Batch API input, the gateway options


def _merge_state(reading: Reading, plan: list[FilePlan], on_step: Callable[[str], None]) -> Any:
    """Read the files not cached, join every file's state and write the new cache entries; returns the session.

    The files are read in batches of about BATCH_ROWS rows, in --logs order (`_batch_ends`): each batch but the
    last only writes its files' cache entries, as a build of the files up to it would, and the last one merges
    every file's state, the earlier batches' from the cache. The per-row tables so hold one batch, never the whole
    input: a full build's cost per row and its memory do not grow with the input (one daily file is one batch).
    A batch's entries are written by a thread while the next batch reads its files (its models before the first
    that reads the cache, `32_cached_table`, wait for nothing): a core the writes leave idle is used."""
    ends = _batch_ends(plan)
    starts = [0, *ends[:-1]]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-entries") as writer:
        pending: list[Future[None]] = []

        def earlier_batches_written() -> None:
            while pending:
                pending.pop().result()

        for start, end in zip(starts[:-1], ends[:-1], strict=True):
            step = _batch_step(on_step, start, end, len(plan))
            con, _, write = _read_files(reading, plan[:end], step, earlier_batches_written, deferred=True)
            pending.append(writer.submit(_written_and_closed, con, write))
            _now_cached(reading.store, plan[:end])
        last = _batch_step(on_step, starts[-1], len(plan), len(plan)) if len(ends) > 1 else on_step
        con, values, write = _read_files(reading, plan, last, earlier_batches_written)
        write()
    _run(con, values, on_step, MODELS[MODELS.index("43_touched_intents") :])
    return con


def _written_and_closed(con: Any, write: Callable[[], None]) -> None:
    """A batch's cache entries written from its session, which then closes (the writer thread's last use of it)."""
    try:
        write()
    finally:
        con.close()


def _batch_step(on_step: Callable[[str], None], start: int, end: int, files: int) -> Callable[[str], None]:
    """The progress of a batch: `files 4-6 of 30: 10_calls`."""
    return lambda step: on_step(f"files {start + 1}-{end} of {files}: {step}")


def _batch_ends(plan: list[FilePlan]) -> list[int]:
    """Where each batch of files ends (exclusive, in plan positions): consecutive files holding about BATCH_ROWS
    rows to read (a bigger file is a batch alone); the last batch ends with the plan."""
    ends, rows = [], 0
    for position, p in enumerate(plan, start=1):
        rows += _estimated_rows(p.item) if p.read else 0
        if rows >= BATCH_ROWS and position < len(plan):
            ends.append(position)
            rows = 0
    return [*ends, len(plan)]


def _estimated_rows(item: InputFile) -> int:
    """A file's rows, to size the batches: a Parquet file's from its footer, a JSON Lines file's from its size."""
    if item.kind == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(item.path).num_rows
    if item.kind == "json_files":
        return sum(member.stat().st_size for member in item.members) // JSONL_LINE_BYTES
    size = item.path.stat().st_size
    return size * (GZIP_RATIO if item.path.name.lower().endswith(".gz") else 1) // JSONL_LINE_BYTES


def _now_cached(store: Store, plan: list[FilePlan]) -> None:
    """The files of a batch just read are cached now: the next batches and the merge take them from their entries."""
    for p in plan:
        if p.read:
            p.read, p.read_in_batch, p.entry = False, True, entry_dir(store, "files", p.key)
        if p.context is None:
            p.context = entry_dir(store, "contexts", p.context_key)


def _read_files(
    reading: Reading,
    plan: list[FilePlan],
    on_step: Callable[[str], None],
    before_cache: Callable[[], None] = lambda: None,
    deferred: bool = False,
) -> tuple[Any, dict[str, Any], Callable[[], None]]:
    """Read `plan`'s files not cached and find what their places add (models up to 42); returns the session, the
    models' parameters and the write of the new `contexts` cache entries, for the caller to run. The new `files`
    entries are written before the models of the files' places, as a one-batch build always wrote them; `deferred`:
    they are left to the returned write as well (a batch whose entries a thread writes beside the next batch)."""
    con, values = file_states(reading, plan, on_step, before_cache)
    new_files = _new_file_entries(plan)
    overwrite = reading.options.full
    if not deferred:
        write_entries(con, reading.store, "files", new_files, overwrite=overwrite)
    _run(con, values, on_step, MODELS[MODELS.index("39_cached_context") : MODELS.index("43_touched_intents")])
    new_contexts = {p.item.order: p.context_key for p in plan if p.context is None}

    def write() -> None:
        if deferred:
            write_entries(con, reading.store, "files", new_files, overwrite=overwrite)
        write_entries(con, reading.store, "contexts", new_contexts, overwrite=overwrite)

    return con, values, write


def read_file_states(
    reading: Reading, plan: list[FilePlan], on_step: Callable[[str], None]
) -> tuple[Any, dict[str, Any]]:
    """Read `plan`'s files not cached and write their `files` cache entries (models up to 37); returns the session
    and the models' parameters. The one path to a file's entry: a batch of the local build, or one file alone in a
    Spark task (`pipelines.file_state.compute_file_entry`), whose entry is the same (it depends on the file only)."""
    con, values = file_states(reading, plan, on_step)
    write_entries(con, reading.store, "files", _new_file_entries(plan), overwrite=reading.options.full)
    return con, values


def _new_file_entries(plan: list[FilePlan]) -> dict[int, str]:
    return {p.item.order: p.key for p in plan if p.read and p.entry is None}


def file_states(
    reading: Reading,
    plan: list[FilePlan],
    on_step: Callable[[str], None],
    before_cache: Callable[[], None] = lambda: None,
) -> tuple[Any, dict[str, Any]]:
    """Read `plan`'s files not cached (models up to 37); returns the session and the models' parameters.
    `before_cache` runs before the first model that reads the cache (an earlier batch's entries being written).

    A cached file whose context is new and holds a repeat of an earlier file's event is read again (its rows'
    records are needed for the quarantine): the session restarts once with it read."""
    while True:
        con = reading.open_session()
        _register_normalizer(con)
        values = _values(reading.options, plan, *reading.window) | reading.placeholders
        carried = reading.carried
        values["carried_results"] = str(carried.folder) if carried else reading.placeholders["no_entry"]
        settings = reading.side.settings if reading.side is not None else GatewaySettings()
        pair_request_key = settings.pair_keys[0] if settings.pair_keys else None
        load_jsonl_lines(con, [p.item for p in plan if p.read], request_keys(pair_request_key, settings.outcome_field))
        if reading.side is not None:
            reading.side.register(con)
            values |= reading.side.values()
        con.register("build_files", _build_files(reading.store, plan, carried.files if carried else 0))
        _run(con, values, on_step, MODELS[: MODELS.index("32_cached_table")])
        before_cache()
        _run(con, values, on_step, MODELS[MODELS.index("32_cached_table") : MODELS.index("34_corrections") + 1])
        corrected = {int(row[0]) for row in con.table("corrections").project("file_order").distinct().fetchall()}
        again = [p for p in plan if not p.read and p.item.order in corrected]
        if not again:
            break
        con.close()
        for item in again:
            item.read = True
    _run(con, values, on_step, MODELS[MODELS.index("35_correction_rows") : MODELS.index("39_cached_context")])
    return con, values


def _values(
    options: SnapshotOptions, plan: list[FilePlan], since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    parquet = [p.item for p in plan if p.read and p.item.kind == "parquet"]
    return {
        "files": [str(i.path) for i in parquet],
        "orders": [i.order for i in parquet],
        "since": since,
        "until": until,
        "max_intent_chars": MAX_INTENT_CHARS,
        "rank": options.rank,
        "seed": str(options.seed),
        "test_threshold": test_threshold(options.test_fraction),
        "alt_marker": "JSON:",
    }


def _build_files(store: Store, plan: list[FilePlan], carried_files: int) -> pl.DataFrame:
    """The build's files as the SQL models see them: position, path, where their cache entries are, and whether
    the merged result the build carries holds them (its first `carried_files` files)."""
    return pl.DataFrame(
        {
            "file_order": [p.item.order for p in plan],
            "path": [str(p.item.path) for p in plan],
            "entry_dir": [str(entry_dir(store, "files", p.key)) for p in plan],
            "cached": [not p.read for p in plan],
            "context_dir": [str(entry_dir(store, "contexts", p.context_key)) for p in plan],
            "context_cached": [p.context is not None for p in plan],
            "carried": [position < carried_files for position in range(len(plan))],
        },
        schema={
            "file_order": pl.Int32,
            "path": pl.String,
            "entry_dir": pl.String,
            "cached": pl.Boolean,
            "context_dir": pl.String,
            "context_cached": pl.Boolean,
            "carried": pl.Boolean,
        },
    )


def _run(con: Any, values: dict[str, Any], on_step: Callable[[str], None], models: list[str]) -> None:
    for model in models:
        on_step(model)
        run_model(con, model, **values)
        if model in HASHED and con.table(HASHED[model]).filter("hash_collision").limit(1).fetchall():
            raise DatabuildError(f"two distinct {HASHED[model]} share a 64-bit hash; please report this input")
        for released in RELEASED_AFTER.get(model, ()):
            table, _, column = released.partition(".")
            con.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"' if column else f'DROP TABLE "{table}"')


def _finish(
    store: Store,
    options: SnapshotOptions,
    pack: ToolPack,
    command: str,
    on_step: Callable[[str], None],
    quarantine: VersionQuarantine,
    plan: list[FilePlan],
    warn: Callable[[str], None],
    side: SideInputs,
    executed: dict[str, Any],
    checksums: TableChecksums,
) -> SnapshotResult:
    con = quarantine.con
    # DuckDB stages the results entry from here on: the checks and Python steps before the version's write leave a
    # core free, which the version's own write does not
    with _result_kept(con, store, _results_keys(options, plan)[-1], warn):
        counts = con.table("accounting").pl()
        accounting = _accounting(counts)
        outcomes = outcome_report(side, [p.item for p in plan], _counts(counts, "matched").get("", 0), warn)
        intents = _intent_counts(counts)
        if accounting["input_rows"] == 0 and accounting["outside_window"]:
            raise DatabuildError(f"all {accounting['outside_window']} input rows lie outside --since/--until")
        per_file = file_outcomes(con, {p.item.order: str(p.item.path) for p in plan}, QUARANTINE_REASONS)
        if accounting["valid_rows"] == 0:
            raise no_valid_rows(per_file)
        for line in nothing_valid_warnings(per_file):
            warn(line)
        _release_per_row_tables(con)
        rows = spread_tools(con.table("rows").pl(), pack)
        if rows.height == 0:  # only then is the quarantine read into Python: to explain and to keep it
            raise _nothing_kept(store, options, pack, accounting, intents, quarantine.frame())
        pool = _intent_pool(con)
        input_records = _input_records(plan, _counts(counts, "read"))
        shaping = options.shaping() | side.shaping()
        manifest: dict[str, Any] = {
            "command": command,
            "parameters": {**shaping, "logs": options.logs, "tools": options.tools},
            "inputs": input_records,
            **({"outcomes": outcomes} if outcomes else {}),
            "sql": sql_hashes(),
            "accounting": accounting,
            "intents": intents,
            "executor": executed,
        }
        on_step("write version")
        published = publish_version(
            store,
            rows,
            manifest,
            shaping,
            quarantine=lambda path: quarantine.write(path, sum(accounting["quarantined"].values())),
            tables={INTENT_POOL_FILE: pool},
            lock_timeout=options.lock_timeout,
            pack=pack,
            parent_from_logs=True,
        )
    con.close()
    if published.unchanged and not store.intent_pool_path(published.name).is_file():
        _repair_intent_pool(store, published.name, pool)
    if not published.unchanged:  # an identical older version may hold other paths or other rejected records
        remember(store, [p.context_key for p in plan], [str(p.item.path) for p in plan], published.name, checksums)
    reuse = _reuse(plan, input_records)
    return SnapshotResult(
        published, accounting, intents, used_all(rows, pack), reuse, input_records, outcomes, executed
    )


@contextmanager
def _result_kept(con: Any, store: Store, key: str, warn: Callable[[str], None]) -> Iterator[None]:
    """DuckDB stages the build's result in a thread while the body (the checks of the result and the version's write)
    runs; the entry is put in place once the body succeeded. It is a cache: failing to keep it is a warning, not a
    failed build."""
    import duckdb

    cursor = con.cursor()  # the thread's own handle on the session
    try:
        with store.workspace("build-results-") as staging, ThreadPoolExecutor(max_workers=1) as helper:
            staged = helper.submit(stage_results, cursor, staging / "entry", key)
            yield
            try:
                staged.result()
                keep_results(store, staging / "entry", key, warn)
            except (OSError, ValueError, duckdb.Error) as exc:
                warn(f"warning: could not keep this build's result for the next one ({visible(_first_line(exc))})")
    finally:
        cursor.close()


def _version_quarantine(
    store: Store,
    options: SnapshotOptions,
    con: Any,
    plan: list[FilePlan],
    no_entry: str,
    warn: Callable[[str], None],
    checksums: TableChecksums,
) -> VersionQuarantine:
    """The build's quarantine, from each file's cache entry or session rows, after the quarantine file of an
    earlier version that holds its first files (not with --full)."""
    cached = {p.item.order: entry_table(p.entry, "quarantine") for p in plan if p.entry is not None and not p.read}
    positions = [QuarantinePosition(p.item.order, str(p.item.path), cached.get(p.item.order)) for p in plan]
    paths = [p.path for p in positions]
    base = None if options.full else find_base(store, [p.context_key for p in plan], paths, warn, checksums)
    return VersionQuarantine(con, positions, entry_table(no_entry, "quarantine"), base, warn)


def _release_per_row_tables(con: Any) -> None:
    """Drop the session's tables the version does not read (one row per input row, some holding every JSON tail),
    so that their memory serves the version's rows and SFT texts instead of adding to them."""
    kept = {"rows", "intent_stats", "accounting", "file_quarantine", "correction_rows"}
    tables = con.sql("SELECT table_name FROM duckdb_tables()").fetchall()  # the models' temp tables too
    for (table,) in tables:
        if table not in kept:
            con.execute(f'DROP TABLE "{table}"')


def _intent_pool(con: Any) -> pl.DataFrame:
    """The version's intent pool: the intents it leaves out, with their exclusion reason and n_calls."""
    return (
        con.table("intent_stats")
        .pl()
        .filter(pl.col("exclusion").is_not_null())
        .select("intent", "intent_text", pl.col("exclusion").alias("reason"), "n_calls")
        .sort("intent")
    )


def _input_records(plan: list[FilePlan], rows_per_file: dict[str, int]) -> list[dict[str, Any]]:
    """The manifest's inputs: each --logs file with its log format, file type, sha256 and the rows read from it."""
    return [
        {
            "path": str(p.item.path),
            "format": p.item.log_format,  # the log format (databuild, openai, litellm, langfuse)
            "file_type": p.item.kind,  # jsonl, parquet, json_files
            "sha256": p.item.sha256,
            "rows": int(rows_per_file.get(str(p.item.path), 0)),
        }
        for p in plan
    ]


def _reuse(plan: list[FilePlan], input_records: list[dict[str, Any]]) -> dict[str, int]:
    """How much of the input this build read and how much it took from the cache."""
    was_read = [p.read or p.read_in_batch for p in plan]
    read = [record["rows"] for record, now in zip(input_records, was_read, strict=True) if now]
    reused = [record["rows"] for record, now in zip(input_records, was_read, strict=True) if not now]
    return {"files_read": len(read), "files_reused": len(reused), "rows_read": sum(read), "rows_reused": sum(reused)}


def _accounting(counts: pl.DataFrame) -> dict[str, Any]:
    outcomes = _counts(counts, "rows")
    read_rows = sum(_counts(counts, "read").values())
    input_rows = sum(outcomes.values())
    return {
        "input_rows": input_rows,
        "valid_rows": outcomes.get("", 0),
        "quarantined": {reason: outcomes[reason] for reason in QUARANTINE_REASONS if outcomes.get(reason)},
        "outside_window": read_rows - input_rows,
    }


def _intent_counts(counts: pl.DataFrame) -> dict[str, Any]:
    outcomes = _counts(counts, "intents")
    return {
        "seen": sum(outcomes.values()),
        "kept": outcomes.get("", 0),
        "excluded": {reason: outcomes[reason] for reason in EXCLUSION_REASONS if outcomes.get(reason)},
    }


def _counts(counts: pl.DataFrame, kind: str) -> dict[str, int]:
    part = counts.filter(pl.col("kind") == kind)
    return {name: int(n) for name, n in zip(part["name"].to_list(), part["n"].to_list(), strict=True)}


def _repair_intent_pool(store: Store, version: str, pool: pl.DataFrame) -> None:
    """A version written before the pool lived inside it, and killed before its pool was written: the pool again,
    where such stores keep it (a published version directory is never modified)."""
    with replacing(store.legacy_intent_pool_path(version)) as handle:
        pool.write_parquet(handle)


EXCLUSION_MEANING = {"no_exports": "no valid call was exported", "incomplete_tools": "a tool had no valid call"}


def _nothing_kept(
    store: Store,
    options: SnapshotOptions,
    pack: ToolPack,
    accounting: dict[str, Any],
    intents: dict[str, Any],
    quarantine: pl.DataFrame,
) -> DatabuildError:
    """Why no intent was kept: each exclusion with its meaning, the quarantine breakdown, the first schema violation,
    and where the quarantine was written."""
    from pipelines.violations import first_violation, keep_failed_quarantine, pack_file_label

    excluded = ", ".join(f"{r} {n} ({EXCLUSION_MEANING.get(r, r)})" for r, n in intents["excluded"].items())
    message = (
        f"no intent could be kept: intents seen {intents['seen']}, all excluded: {excluded or 'nothing'}; "
        f"input rows {accounting['input_rows']}: valid {accounting['valid_rows']}, "
        f"quarantined {_reasons_summary(accounting['quarantined'])}"
    )
    hint = first_violation(quarantine, pack, pack_file_label(options.tools))
    if hint:
        message += f"; {hint}"
    if quarantine.height:
        message += f"; quarantine: {keep_failed_quarantine(store, quarantine)}"
    return DatabuildError(message)


def _reasons_summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counts.items()) or "nothing"


def default_sample(store: Store) -> Path:
    """The embedded sample: simulated logs, generated once per store (deterministic, offline)."""
    from databuild.packs.colour.simulate import SimulationOptions, write_logs

    path = store.sample_path
    if not path.exists():
        write_logs(SimulationOptions(), path)
    return path
