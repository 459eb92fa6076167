"""Teacher-log inputs: resolve `--logs` paths and globs, reject unusable files, stream JSON Lines as lines.

Every problem with a file as a whole (missing, empty, binary, unreadable Parquet, missing columns) is a
DatabuildError raised before anything is written; problems with single records are quarantine reasons.
"""

from __future__ import annotations

import glob
import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from databuild.errors import DatabuildError
from pipelines.input_hashes import InputHashes
from pipelines.log_formats import GATEWAY_FORMATS, HEAD_RECORDS, FormatChoice, file_format
from pipelines.slim_lines import TOOLS_SCHEMA, ToolsSlimmer, WholeLines

REQUIRED_FIELDS = ("event_id", "request_id", "ts", "intent", "tool", "response", "exported")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # the file type: 'jsonl' | 'parquet' | 'json_files' (a folder or glob of one-object .json files)
    sha256: str
    order: int
    log_format: str = "databuild"  # pipelines.log_formats: databuild | openai | litellm | langfuse
    members: tuple[Path, ...] = ()  # a 'json_files' input's files, in name order (each one record)


def resolve_inputs(
    patterns: list[str], hashes: InputHashes | None = None, choice: FormatChoice | None = None
) -> list[InputFile]:
    """Expand globs in order, drop repeats, and check each file's kind, log format and basic readability.

    `hashes` knows the sha256 of files hashed before (the store's memo); without it every file is read whole.
    A folder, and the `.json` files a glob matches in one folder, are one input of one-object `.json` files
    (what LiteLLM's S3/GCS loggers write), with `litellm` or `auto`."""
    hashes = hashes or InputHashes(None)
    choice = choice or FormatChoice()
    inputs: list[Path | tuple[Path, ...]] = []
    seen: set[Path] = set()
    for pattern in patterns:
        # a path that exists as written is that file, even when it holds glob characters (`a[1].jsonl`)
        literal = os.path.lexists(pattern) or not glob.has_magic(pattern)
        matches = [pattern] if literal else sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise DatabuildError(f"no files match {pattern!r}")
        json_groups: dict[Path, list[Path]] = {}
        for match in matches:
            path = Path(match)
            if path.is_dir() and choice.log_format in ("auto", "litellm"):
                inputs.append(_folder_members(path))
                continue
            _check_regular(path)
            if (resolved := path.resolve()) in seen:
                continue
            seen.add(resolved)
            if path.name.lower().endswith(".json") and choice.log_format in ("auto", "litellm"):
                if path.parent not in json_groups:
                    json_groups[path.parent] = []
                    inputs.append(path.parent)  # its place: where its first file was matched
                json_groups[path.parent].append(path)
            else:
                inputs.append(path)
        inputs = [tuple(json_groups.pop(item)) if item in json_groups else item for item in inputs]
    return [_check_input(item, order, hashes, choice) for order, item in enumerate(inputs, start=1)]


def _folder_members(folder: Path) -> tuple[Path, ...]:
    members = tuple(sorted(p for p in folder.rglob("*.json") if p.is_file()))
    if not members:
        raise DatabuildError(f"{folder} is a directory with no .json files; give files or a glob such as "
                             f"'{folder}/*.jsonl'")  # fmt: skip
    return members


def _check_input(item: Path | tuple[Path, ...], order: int, hashes: InputHashes, choice: FormatChoice) -> InputFile:
    if isinstance(item, Path):
        return _check_file(item, order, hashes, choice)
    from pipelines.json_files import check_json_files

    return check_json_files(item, order, hashes, choice)


def _check_regular(path: Path) -> None:
    """A log is a regular file: a FIFO, a device (`/dev/zero`) or a socket could hang the build or never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DatabuildError(f"log file not found: {path}") from None
    except OSError as exc:
        raise DatabuildError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise DatabuildError(f"{path} is a directory; give files or a glob such as '{path}/*.jsonl'")
    if not stat.S_ISREG(mode):
        raise DatabuildError(f"{path} is not a regular file (a FIFO, device or socket cannot be a log)")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise DatabuildError(f"{path}: unsupported file type (expected .jsonl, .jsonl.gz or .parquet)")


def _check_file(path: Path, order: int, hashes: InputHashes, choice: FormatChoice) -> InputFile:
    kind = _kind(path)
    try:
        sha256 = hashes.sha256(path)
    except OSError as exc:
        raise DatabuildError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.stat().st_size == 0:
        raise DatabuildError(f"{path} is empty")
    if kind == "parquet":
        if choice.log_format in GATEWAY_FORMATS:
            raise DatabuildError(
                f"{path}: a Parquet file is read in the databuild format only, not {choice.log_format}"
            )
        _check_parquet(path)
        return InputFile(path, kind, sha256, order)
    _check_jsonl_head(path)
    return InputFile(path, kind, sha256, order, file_format(path, _head_lines(path), choice))


def _head_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The first HEAD_RECORDS non-blank lines of a JSON Lines file, numbered (each cut at MAX_LINE_BYTES)."""
    found = 0
    with _open_jsonl(path) as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if found == HEAD_RECORDS:
                return
            if line.strip():
                found += 1
                yield number, line.removeprefix(BOM) if number == 1 else line


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
BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 8 << 20  # JSON Lines are read this much at a time
MAX_LINE_BYTES = 1 << 20  # a longer line is one bad_record (the contract in the README)
OVERLONG_KEPT = 1024  # bytes of an over-long line kept in the quarantine
LINE_SCHEMA = {"source_file": pl.String, "source_line": pl.Int64, "file_order": pl.Int32, "line": pl.String}
GATEWAY_LINE_SCHEMA = {**LINE_SCHEMA, "log_format": pl.String, **TOOLS_SCHEMA}
BLANK = r"^\s*$"  # a blank line: \s is Unicode's White_Space in Polars' regex, the set strip_chars() strips


WHOLE_LINES = WholeLines()  # a gateway log's lines kept whole (no slim_keys)


def json_file_blocks(item: InputFile) -> Iterator[tuple[int, list[bytes]]]:
    """A 'json_files' input as lines: each file one line (its JSON's line breaks are spaces: JSON strings hold no
    raw line break), numbered by its place in name order."""
    from pipelines.json_files import member_lines

    yield from member_lines(item)


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


def load_jsonl_lines(con: Any, inputs: list[InputFile], slim_keys: dict[str, frozenset[str]] | None = None) -> None:
    """Every JSON Lines file into the DuckDB table `raw_lines(source_file, source_line, file_order, line)`, and the
    gateway logs' into `gateway_lines` (with `log_format`).

    Files are streamed in blocks of about BLOCK_BYTES, so Python's memory does not grow with the file; DuckDB holds
    the lines within its memory limit (spilling past it). Blank lines are not records. A line that is not valid
    UTF-8 keeps its place with U+FFFD for the bad bytes, and a line over MAX_LINE_BYTES keeps its place cut short:
    neither is a JSON object, so the snapshot quarantines it as bad_record.

    With `slim_keys` (pipelines.slim_lines.request_keys), a gateway line's offered `tools` list is cut down to the
    names as it loads (`gateway_lines.line`), and `gateway_tools(tools_id, tools)` with the line's `tools_id`,
    `tools_at` and `tools_chars` give the original line back; without, every line is kept whole.
    """
    con.from_arrow(pl.DataFrame(schema=LINE_SCHEMA).to_arrow()).create("raw_lines")
    con.from_arrow(pl.DataFrame(schema=GATEWAY_LINE_SCHEMA).to_arrow()).create("gateway_lines")
    con.execute("CREATE TABLE gateway_tools (tools_id INTEGER, tools VARCHAR)")
    slimmer = ToolsSlimmer(con, slim_keys) if slim_keys is not None else None
    for item in inputs:
        if item.kind == "parquet":
            continue
        if slimmer is not None:
            slimmer.start_file(item.log_format)
        blocks = _line_blocks(item.path) if item.kind == "jsonl" else json_file_blocks(item)
        for first_line, lines in blocks:
            if item.log_format == "databuild":
                con.from_arrow(_block_frame(lines, first_line, item).to_arrow()).insert_into("raw_lines")
            else:  # a gateway log: its reader model (sql/07_<format>_completions.sql) picks its lines
                gateway = _block_frame(lines, first_line, item, slimmer or WHOLE_LINES)
                con.from_arrow(gateway.to_arrow()).insert_into("gateway_lines")


def _line_blocks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, complete lines as bytes) per block read; a leading UTF-8 BOM is dropped."""
    line_number = 1
    try:
        with _open_jsonl(path) as handle:
            for lines in _split_lines(handle):
                if line_number == 1 and lines[0].startswith(BOM):
                    lines[0] = lines[0][len(BOM) :]
                yield line_number, lines
                line_number += len(lines)
    except (OSError, EOFError, zlib.error) as exc:
        what = "a truncated or corrupt gzip file" if path.name.lower().endswith(".gz") else "unreadable"
        raise DatabuildError(f"{path} is {what} ({_one_line(exc)})") from None


def _split_lines(handle: Any) -> Iterator[list[bytes]]:
    """Blocks of complete lines; a line longer than MAX_LINE_BYTES is never held whole (see `_overlong`)."""
    carry, carry_size = b"", 0  # the unfinished line: at most MAX_LINE_BYTES + 1 of its bytes, and its true size
    while chunk := handle.read(BLOCK_BYTES):
        parts = chunk.split(b"\n")
        if len(parts) == 1:  # still inside one line
            carry, carry_size = (carry + chunk)[: MAX_LINE_BYTES + 1], carry_size + len(chunk)
            continue
        first_size = carry_size + len(parts[0])
        parts[0] = carry + parts[0]
        if first_size > MAX_LINE_BYTES:
            parts[0] = _overlong(parts[0], first_size)
        tail = parts.pop()
        carry, carry_size = tail[: MAX_LINE_BYTES + 1], len(tail)
        yield [line if len(line) <= MAX_LINE_BYTES else _overlong(line, len(line)) for line in parts]
    if carry_size:
        yield [carry if carry_size <= MAX_LINE_BYTES else _overlong(carry, carry_size)]


def _overlong(line: bytes, size: int) -> bytes:
    """What a line over the cap becomes: its first KiB and a note; never a JSON object, so a bad_record."""
    head = line[:OVERLONG_KEPT].decode("utf-8", errors="ignore")
    return f"{head}… ({size} bytes: over the {MAX_LINE_BYTES} byte line cap)".encode()


def _block_frame(lines: list[bytes], first_line: int, item: InputFile, slimmer: Any = None) -> pl.DataFrame:
    """The block's non-blank lines as a frame of LINE_SCHEMA; with a `slimmer` (a gateway log), GATEWAY_LINE_SCHEMA's:
    the lines as it cuts them, and where."""
    if slimmer is None:
        texts = _block_texts(lines)
    else:  # long lines: one decode each (the same text when every line is UTF-8) beats a join, a decode and a split
        try:
            texts = [line.decode("utf-8") for line in lines]
        except UnicodeDecodeError:
            texts = _block_texts(lines)
    columns: dict[str, list[Any]] = {"line": texts} if slimmer is None else slimmer.slim(texts)
    frame = pl.DataFrame(columns, schema={"line": pl.String, **({} if slimmer is None else TOOLS_SCHEMA)})
    # blank: nothing but white space (Unicode's, as strip_chars has it); tested without copying the lines
    kept = frame.with_row_index("source_line", offset=first_line).filter(~pl.col("line").str.contains(BLANK))
    line = pl.col("line")
    if kept.get_column("line").str.ends_with("\r").any():  # after the cut: the list never ends a line
        line = line.str.strip_suffix("\r")
    columns_out = [
        pl.lit(str(item.path)).alias("source_file"),
        pl.col("source_line").cast(pl.Int64),
        pl.lit(item.order, dtype=pl.Int32).alias("file_order"),
        line,
    ]
    if slimmer is not None:
        columns_out += [pl.lit(item.log_format).alias("log_format"), *map(pl.col, TOOLS_SCHEMA)]
    return kept.select(columns_out)


def _block_texts(lines: list[bytes]) -> list[str]:
    """The lines as text: a line that is not valid UTF-8 keeps its place with U+FFFD for the bad bytes, after a NUL
    (never valid JSON)."""
    raw = b"\n".join(lines)
    text = raw.decode("utf-8", errors="replace")
    if REPLACEMENT in text and REPLACEMENT.encode() in raw:
        # the block also holds literal U+FFFD: decode line by line so only broken lines are marked
        text = "\n".join(_mark_undecodable(line) for line in lines)
    elif REPLACEMENT in text:
        text = text.replace(REPLACEMENT, "\x00" + REPLACEMENT)  # a raw NUL: never valid JSON
    return text.split("\n")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _mark_undecodable(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return "\x00" + line.decode("utf-8", errors="replace")
