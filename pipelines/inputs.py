"""Teacher-log inputs: resolve `--logs` paths and globs, reject unusable files, read JSON Lines as lines.

Every problem with a file as a whole (missing, empty, binary, unreadable Parquet, missing columns) is a
DatabuildError raised before anything is written; problems with single records are quarantine reasons.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from databuild.errors import DatabuildError

REQUIRED_FIELDS = ("event_id", "request_id", "ts", "intent", "tool", "response", "exported")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # 'jsonl' | 'parquet'
    sha256: str
    order: int


def resolve_inputs(patterns: list[str]) -> list[InputFile]:
    """Expand globs in order, drop repeats, and check each file's kind and basic readability."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise DatabuildError(f"no files match {pattern!r}")
        for match in matches:
            path = Path(match)
            if not path.exists():
                raise DatabuildError(f"log file not found: {path}")
            if path.is_dir():
                raise DatabuildError(f"{path} is a directory; give files or a glob such as '{path}/*.jsonl'")
            if path.resolve() not in {p.resolve() for p in paths}:
                paths.append(path)
    return [_check_file(path, order) for order, path in enumerate(paths, start=1)]


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise DatabuildError(f"{path}: unsupported file type (expected .jsonl, .jsonl.gz or .parquet)")


def _check_file(path: Path, order: int) -> InputFile:
    kind = _kind(path)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DatabuildError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.stat().st_size == 0:
        raise DatabuildError(f"{path} is empty")
    if kind == "parquet":
        _check_parquet(path)
    else:
        _check_jsonl_head(path)
    return InputFile(path, kind, digest.hexdigest(), order)


def _check_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for non-Parquet bytes
        raise DatabuildError(f"{path} is not a readable Parquet file ({exc})") from None
    missing = [field for field in REQUIRED_FIELDS if field not in schema.names]
    if missing:
        raise DatabuildError(f"{path} lacks required column(s): {', '.join(missing)}")


HEAD_BYTES = 1 << 16
REPLACEMENT = "\ufffd"


def _open_jsonl(path: Path) -> Any:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _check_jsonl_head(path: Path) -> None:
    """A whole-file verdict from the first 64 KiB: readable, not empty, and text rather than binary.

    Single bad lines (a raw NUL, invalid UTF-8) are not a file problem: they become bad_record rows.
    """
    try:
        with _open_jsonl(path) as handle:
            head = handle.read(HEAD_BYTES)
    except (OSError, EOFError) as exc:
        raise DatabuildError(f"{path} is not a valid gzip file ({exc})") from None
    if not head:
        raise DatabuildError(f"{path} is empty")
    text = head.decode("utf-8", errors="replace")
    if head.count(b"\x00") > len(head) // 100 or text.count(REPLACEMENT) > len(text) // 100:
        raise DatabuildError(f"{path} looks binary, not JSON Lines (NUL bytes or invalid UTF-8)")


def jsonl_lines(inputs: list[InputFile]) -> pl.DataFrame:
    """All JSON Lines files as (source_file, source_line, file_order, line); blank lines are not records.

    A line that is not valid UTF-8 keeps its place with U+FFFD for the bad bytes: it is no JSON object, so the
    snapshot quarantines it as bad_record.
    """
    frames = []
    for item in inputs:
        if item.kind != "jsonl":
            continue
        with _open_jsonl(item.path) as handle:
            raw = handle.read()
        text = raw.decode("utf-8", errors="replace")
        if REPLACEMENT in text and REPLACEMENT.encode() in raw:
            # the file also holds literal U+FFFD: decode line by line so only broken lines are marked
            text = "\n".join(_mark_undecodable(line) for line in raw.split(b"\n"))
        elif REPLACEMENT in text:
            text = text.replace(REPLACEMENT, "\x00" + REPLACEMENT)  # a raw NUL: never valid JSON
        lines = pl.DataFrame({"line": text.split("\n")}).with_row_index("source_line", offset=1)
        frames.append(
            lines.filter(pl.col("line").str.strip_chars() != "").select(
                pl.lit(str(item.path)).alias("source_file"),
                pl.col("source_line").cast(pl.Int64),
                pl.lit(item.order, dtype=pl.Int32).alias("file_order"),
                pl.col("line").str.strip_suffix("\r"),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={"source_file": pl.String, "source_line": pl.Int64, "file_order": pl.Int32, "line": pl.String}
        )
    return pl.concat(frames)


def _mark_undecodable(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return "\x00" + line.decode("utf-8", errors="replace")
