"""Snapshot: teacher logs -> export-maximizing ground truth -> a new dataset version.

The pipeline is the list of SQL models in `STEPS`, run in order on one DuckDB connection; Polars and
`pipelines.emit` then write the version. Every input row ends up valid or quarantined with one reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from databuild.contracts import spread_tools, used_all
from databuild.errors import DatabuildError
from databuild.normalize import MAX_INTENT_CHARS, normalize_intent
from databuild.pack import ToolPack, colour_pack, load_pack
from databuild.sqlrun import connect, run_model, sql_hashes
from databuild.store import INTENT_POOL_FILE, Store, replacing
from pipelines.emit import Published, publish_version
from pipelines.inputs import InputFile, load_jsonl_lines, resolve_inputs

QUARANTINE_REASONS = (
    "bad_record",
    "missing_field",
    "bad_type",
    "duplicate_event",
    "unknown_tool",
    "empty_intent",
    "intent_too_long",
    "no_json",
    "invalid_json",
    "schema_violation",
)
EXCLUSION_REASONS = ("no_exports", "incomplete_tools")
MEMORY_LIMIT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:[KMGT](?:i?B)?|B|%)", re.IGNORECASE)
RANKS = ("raw", "wilson")
PARQUET_ONLY = ("06_raw_parquet", "71_quarantine_parquet")
NO_PARQUET_ONLY = ("07_raw_parquet_none",)
# (model, what it reads -> what it writes): the pipeline, top to bottom.
STEPS = (
    ("01_inputs", "--logs -> parquet_files"),
    ("02_input_helpers", "parquet_files -> parquet_globs, iso_instant()"),
    ("05_raw_jsonl", "raw_lines -> raw_jsonl"),
    ("06_raw_parquet", "parquet files -> raw_parquet"),
    ("07_raw_parquet_none", "(no parquet files) -> raw_parquet, empty"),
    ("09_raw", "raw_jsonl, raw_parquet -> raw"),
    ("10_calls", "raw -> calls"),
    ("15_output_texts", "calls -> output_texts (distinct json tails)"),
    ("20_outputs", "output_texts -> parsed_outputs"),
    ("22_intents", "calls -> intents (normalized, with ids)"),
    ("25_valid_calls", "calls, intents, output_texts, parsed_outputs -> checked_calls"),
    ("30_candidates", "checked_calls, intents, parsed_outputs -> candidates"),
    ("35_intent_stats", "checked_calls, intents -> intent_stats"),
    ("40_ground_truth", "candidates, intent_stats -> ground_truth"),
    ("50_split", "intent_stats -> split"),
    ("60_rows", "ground_truth, intent_stats, split -> rows"),
    ("70_quarantine", "checked_calls, raw_jsonl -> quarantine"),
    ("71_quarantine_parquet", "checked_calls, parquet files -> quarantine"),
    ("80_accounting", "raw, checked_calls, intent_stats -> accounting"),
)


@dataclass(frozen=True)
class SnapshotOptions:
    logs: list[str]
    since: str | None = None
    until: str | None = None
    rank: str = "raw"
    test_fraction: float = 0.1
    seed: int = 0
    memory_limit: str | None = None
    tools: str | None = None  # a tool pack file; None: the built-in colour pack
    lock_timeout: float | None = None
    extra_parameters: dict[str, Any] = field(default_factory=dict)

    def pack(self) -> ToolPack:
        return load_pack(self.tools) if self.tools else colour_pack()

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
    inputs: list[dict[str, Any]]


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
    import pyarrow as pa

    # no annotations: duckdb inspects them, and these take and return pyarrow arrays
    def normalize_batch(texts):  # type: ignore[no-untyped-def]
        return pa.array([None if t is None else normalize_intent(t) for t in texts.to_pylist()], pa.string())

    def strip_batch(texts):  # type: ignore[no-untyped-def]
        return pa.array([None if t is None else t.strip() for t in texts.to_pylist()], pa.string())

    for name, function in (("strip_surface", strip_batch), ("normalize_intent", normalize_batch)):
        varchar = duckdb.sqltype("VARCHAR")
        con.create_function(name, function, [varchar], varchar, type="arrow", side_effects=False)


def build_snapshot(
    store: Store,
    options: SnapshotOptions,
    command: str,
    on_step: Callable[[str], None] = lambda step: None,
) -> SnapshotResult:
    since, until = validate(options)
    pack = options.pack()
    inputs = resolve_inputs(options.logs)
    import duckdb

    # DuckDB spills here past its memory limit: in the store's tmp/, removed when the build ends (or swept)
    with store.workspace("duckdb-") as spill_dir:
        con = None
        try:  # connect too: registering the pack tables can already hit a tiny --memory-limit
            con = connect(memory_limit=options.memory_limit, temp_directory=str(spill_dir), pack=pack)
            return _build(store, options, pack, command, on_step, inputs, since, until, con)
        except duckdb.OutOfMemoryException as exc:
            limit = options.memory_limit or "DuckDB's default, 80% of RAM"
            raise DatabuildError(
                f"the build ran out of memory under --memory-limit {limit} ({_first_line(exc)})"
            ) from None
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # e.g. a Parquet file corrupt inside
            raise DatabuildError(f"the build could not read or write a file: {_first_line(exc)}") from None
        finally:
            if con is not None:
                con.close()  # before the spill folder goes: an interrupted query must not write into it again


def _build(
    store: Store,
    options: SnapshotOptions,
    pack: ToolPack,
    command: str,
    on_step: Callable[[str], None],
    inputs: list[InputFile],
    since: datetime | None,
    until: datetime | None,
    con: Any,
) -> SnapshotResult:
    _register_normalizer(con)
    values: dict[str, Any] = {
        "files": [str(i.path) for i in inputs if i.kind == "parquet"],
        "since": since,
        "until": until,
        "max_intent_chars": MAX_INTENT_CHARS,
        "rank": options.rank,
        "seed": str(options.seed),
        "test_threshold": test_threshold(options.test_fraction),
        "alt_marker": "JSON:",
    }
    load_jsonl_lines(con, inputs)
    for model, _ in STEPS:
        if (model in PARQUET_ONLY and not values["files"]) or (model in NO_PARQUET_ONLY and values["files"]):
            continue
        on_step(model)
        run_model(con, model, **values)
        if model == "15_output_texts" and con.table("output_texts").pl()["hash_collision"].any():
            raise DatabuildError("two distinct responses share a 64-bit hash; please report this input")

    counts = con.table("accounting").pl()
    accounting = _accounting(counts)
    intents = _intent_counts(counts)
    if accounting["input_rows"] == 0 and accounting["outside_window"]:
        raise DatabuildError(f"all {accounting['outside_window']} input rows lie outside --since/--until")
    if accounting["valid_rows"] == 0:
        raise DatabuildError("no valid rows in the input: " + _reasons_summary(accounting["quarantined"]))
    rows = spread_tools(con.table("rows").pl(), pack)
    quarantine = con.table("quarantine").pl().sort("source_file", "source_line")
    if rows.height == 0:
        raise _nothing_kept(store, options, pack, accounting, intents, quarantine)
    pool = (
        con.table("intent_stats")
        .pl()
        .filter(pl.col("exclusion").is_not_null())
        .select("intent", "intent_text", pl.col("exclusion").alias("reason"), "n_calls")
        .sort("intent")
    )
    con.close()

    rows_per_file = _counts(counts, "read")
    input_records = [
        {"path": str(i.path), "format": i.kind, "sha256": i.sha256, "rows": int(rows_per_file.get(str(i.path), 0))}
        for i in inputs
    ]
    manifest = {
        "command": command,
        "parameters": {**options.shaping(), "logs": options.logs, "tools": options.tools, **options.extra_parameters},
        "inputs": input_records,
        "sql": sql_hashes(),
        "accounting": accounting,
        "intents": intents,
    }
    on_step("write version")
    published = publish_version(
        store,
        rows,
        manifest,
        options.shaping(),
        quarantine=quarantine,
        tables={INTENT_POOL_FILE: pool},
        lock_timeout=options.lock_timeout,
        pack=pack,
    )
    if published.unchanged and not store.intent_pool_path(published.name).is_file():
        _repair_intent_pool(store, published.name, pool)
    return SnapshotResult(published, accounting, intents, used_all(rows, pack), input_records)


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
    with replacing(store.cache_dir / "intent_pool" / f"{version}.parquet") as handle:
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

    path = store.cache_dir / "sample" / "teacher_logs.jsonl.gz"
    if not path.exists():
        write_logs(SimulationOptions(), path)
    return path
