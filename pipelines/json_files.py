"""A folder (or a glob's matches in one folder) of one-object `.json` files as one input: what LiteLLM's S3/GCS
loggers write (`<prefix>/<YYYY-MM-DD>/<id>.json`), read as the `litellm` format.

The input is known by its folder; its sha256 digests each file's name and sha256 (so a new or changed file changes
it, and a day's folder that is complete keeps its cache entry). Each file is one record: its line in the build is
its place in name order, and the quarantine keeps the record itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from databuild.errors import DatabuildError
from pipelines.input_hashes import InputHashes
from pipelines.inputs import MAX_LINE_BYTES, InputFile, _check_regular
from pipelines.log_formats import HEAD_RECORDS, FormatChoice, file_format

BLOCK_FILES = 10_000  # files read per block


def check_json_files(members: tuple[Path, ...], order: int, hashes: InputHashes, choice: FormatChoice) -> InputFile:
    folder = Path(os.path.commonpath([str(m.parent) for m in members]))
    digest = hashlib.sha256()
    for member in members:
        _check_regular(member)
        try:
            digest.update(f"{member.relative_to(folder)}\0{hashes.sha256(member)}\n".encode())
        except OSError as exc:
            raise DatabuildError(f"cannot read {member}: {exc.strerror or exc}") from None
    log_format = file_format(folder, _head(members), choice)
    if log_format != "litellm":
        raise DatabuildError(f"{folder}: a folder of .json files is read as litellm only, not {log_format}")
    return InputFile(folder, "json_files", digest.hexdigest(), order, "litellm", members)


def _head(members: tuple[Path, ...]) -> Iterator[tuple[int, bytes]]:
    for number, member in enumerate(members[:HEAD_RECORDS], start=1):
        yield number, _one_line(member)


def _one_line(member: Path) -> bytes:
    data = member.read_bytes()
    if len(data) > MAX_LINE_BYTES:  # kept short: never a JSON object, so a bad_record
        return data[:1024].replace(b"\n", b" ") + f" ({len(data)} bytes: over the line cap)".encode()
    return data.replace(b"\r", b" ").replace(b"\n", b" ").strip() or b"(an empty file)"


def member_lines(item: InputFile) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines) per block of files."""
    for start in range(0, len(item.members), BLOCK_FILES):
        try:
            lines = [_one_line(member) for member in item.members[start : start + BLOCK_FILES]]
        except OSError as exc:
            raise DatabuildError(f"cannot read a file of {item.path}: {exc.strerror or exc}") from None
        yield start + 1, lines
