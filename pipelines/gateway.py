"""What a build of gateway logs needs beside the logs: the outcomes files, the Batch API input file and the options
that change how a gateway file's rows come out (`--pair-keys`, `--teacher-model`, `--outcome-*`).

These are inputs like the logs: each file's sha256 goes into the manifest and the fingerprint, and into the cache key
of every gateway file (the simplest correct choice: a changed outcomes file recomputes every gateway file, since
any of them may hold the requests it changes; databuild-format files keep their keys: their `exported` is their
own field).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from databuild.errors import DatabuildError
from pipelines.input_hashes import InputHashes
from pipelines.inputs import InputFile, _check_regular, _line_blocks
from pipelines.outcomes import OUTCOME_SCHEMA, read_outcomes

BATCH_SCHEMA = {"line": pl.String}


@dataclass(frozen=True)
class GatewaySettings:
    """The snapshot options of gateway logs, as given."""

    pair_keys: tuple[str, str] | None = None
    batch_input: str | None = None
    outcomes: tuple[str, ...] = ()
    outcome_name: str = "exported"
    outcome_threshold: float = 1.0
    outcome_field: str | None = None
    teacher_models: tuple[str, ...] = ()


@dataclass
class SideInputs:
    """The loaded side inputs of one build."""

    settings: GatewaySettings
    outcome_records: pl.DataFrame
    batch_lines: pl.DataFrame
    files: list[dict[str, Any]] = field(default_factory=list)  # manifest entries: path, role, sha256, rows

    def register(self, con: Any) -> None:
        """The tables the readers and 04_outcomes read, in a DuckDB session."""
        con.from_arrow(self.outcome_records.to_arrow()).create("outcome_records")
        con.from_arrow(self.batch_lines.to_arrow()).create("batch_lines")

    def values(self) -> dict[str, Any]:
        """The SQL models' parameters."""
        request_key, response_key = self.settings.pair_keys or (None, None)
        return {  # the --pair-keys as JSON paths: `$."<key>"`
            "request_key": None if request_key is None else f'$."{request_key}"',
            "response_key": None if response_key is None else f'$."{response_key}"',
            "outcome_path": outcome_path(self.settings.outcome_field),
            "teacher_models": list(self.settings.teacher_models),
        }

    def shaping(self) -> dict[str, Any]:
        """What enters the fingerprint beside the options: only what was given (a build of databuild-format logs
        with none of these keeps the fingerprint it always had)."""
        given: dict[str, Any] = {f"{entry['role']}_sha256": [] for entry in self.files}
        for entry in self.files:
            given[f"{entry['role']}_sha256"].append(entry["sha256"])
        settings = self.settings
        if settings.outcomes and settings.outcome_name != "exported":
            given["outcome_name"] = settings.outcome_name
        if settings.outcomes and settings.outcome_threshold != 1.0:
            given["outcome_threshold"] = settings.outcome_threshold
        for name in ("pair_keys", "outcome_field", "teacher_models"):
            if getattr(settings, name):
                given[name] = getattr(settings, name)
        return given

    def file_key(self, item: InputFile) -> str:
        """The sha256 that keys a file's cache entry: a gateway file's own, with the side inputs and options."""
        if item.log_format == "databuild":
            return item.sha256
        extra = {"log_format": item.log_format, "file_type": item.kind, **self.shaping()}
        return item.sha256 + ":" + hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()


def outcome_path(field_path: str | None) -> str | None:
    """`--outcome-field request.metadata.exported` -> the JSON path `$."request"."metadata"."exported"`."""
    if field_path is None:
        return None
    parts = field_path.split(".")
    if not all(parts) or any('"' in part for part in parts):
        raise DatabuildError(f"--outcome-field must be a dotted path such as metadata.exported, not {field_path!r}")
    return "$." + ".".join(f'"{part}"' for part in parts)


def load_side_inputs(settings: GatewaySettings, hashes: InputHashes) -> SideInputs:
    outcome_path(settings.outcome_field)  # a bad path is refused before any work
    files: list[dict[str, Any]] = []
    frames = [pl.DataFrame(schema=OUTCOME_SCHEMA)]
    for name in settings.outcomes:
        path = Path(name)
        if not path.exists():
            raise DatabuildError(f"outcomes file not found: {path}")
        _check_regular(path)
        frame = read_outcomes(path, settings.outcome_name, settings.outcome_threshold)
        frames.append(frame)
        files.append({"path": name, "role": "outcomes", "sha256": hashes.sha256(path), "rows": frame.height})
    batch = pl.DataFrame(schema=BATCH_SCHEMA)
    if settings.batch_input is not None:
        path = Path(settings.batch_input)
        if not path.exists():
            raise DatabuildError(f"--batch-input file not found: {path}")
        _check_regular(path)
        blocks = [line.decode("utf-8", errors="replace") for _, lines in _line_blocks(path) for line in lines]
        batch = pl.DataFrame({"line": [line for line in blocks if line.strip()]}, schema=BATCH_SCHEMA)
        files.append({"path": settings.batch_input, "role": "batch_input", "sha256": hashes.sha256(path),
                      "rows": batch.height})  # fmt: skip
    return SideInputs(settings, pl.concat(frames), batch, files)


JOIN_KEY = (
    "request_id: a completion's id (openai), LiteLLM's trace_id, Langfuse's trace_id; against the outcomes' "
    "request_id (a Langfuse scores export: its trace_id)"
)


def outcome_report(
    side: SideInputs, inputs: list[InputFile], matched: int, warn: Callable[[str], None]
) -> dict[str, Any] | None:
    """The report's and manifest's `outcomes` (None when no outcome was given), with a warning when no request of
    the gateway logs matched one: a wrong join key would otherwise make every intent no_exports."""
    settings = side.settings
    if not settings.outcomes and settings.outcome_field is None:
        return None
    join_key = " or ".join(
        part for part in (
            JOIN_KEY if settings.outcomes else "",
            f"--outcome-field {settings.outcome_field}" if settings.outcome_field else "",
        ) if part
    )  # fmt: skip
    gateway = any(item.log_format != "databuild" for item in inputs)
    if not gateway:
        warn("warning: outcomes apply to gateway logs only; the databuild-format files keep their own `exported`")
    elif matched == 0:
        warn(f"warning: no request matched an outcome (join key tried: {join_key}); every request counts as not "
             "exported")  # fmt: skip
    files = [entry for entry in side.files if entry["role"] == "outcomes"]
    return {"files": files, "field": settings.outcome_field, "join_key": join_key, "matched_requests": matched}
