"""Which log format each input file is in (`snapshot --log-format`), decided from its first records.

The formats: `databuild` (one record per tool call, the raw log contract), `openai` (request/response pairs, Batch
API output lines), `litellm` (StandardLoggingPayload) and `langfuse` (the observations export). Each gateway
format is read by one SQL model (sql/07_<format>_completions.sql); this module only tells them apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError

LOG_FORMATS = ("auto", "databuild", "openai", "litellm", "langfuse")
DETECTED = ("databuild", "openai", "litellm", "langfuse")  # the order `auto` tries them in
GATEWAY_FORMATS = ("openai", "litellm", "langfuse")
STANDARD_PAIRS = (("request", "response"), ("request_body", "response_body"), ("reqPayload", "respPayload"))
DATABUILD_FIELDS = ("event_id", "request_id", "ts", "intent", "tool", "response", "exported")
HEAD_RECORDS = 20  # `auto` looks at this many non-blank lines of a file


@dataclass(frozen=True)
class FormatChoice:
    """`--log-format` and `--pair-keys` as given (pair_keys: (REQ, RESP) or None for the standard pairs)."""

    log_format: str = "auto"
    pair_keys: tuple[str, str] | None = None

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return (self.pair_keys,) if self.pair_keys else STANDARD_PAIRS


def parse_pair_keys(value: str | None) -> tuple[str, str] | None:
    """`--pair-keys REQ,RESP` -> (REQ, RESP)."""
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1] or any('"' in part for part in parts):
        raise DatabuildError(f"--pair-keys takes two different key names as REQ,RESP, not {value!r}")
    return parts[0], parts[1]


def check_log_format(value: str) -> None:
    if value not in LOG_FORMATS:
        raise DatabuildError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, not {value!r}")


def record_format(record: Any, choice: FormatChoice) -> str | None:
    """The format a parsed record has the shape of, or None."""
    if not isinstance(record, dict):
        return None
    if "tool" in record and "response" in record or sum(key in record for key in DATABUILD_FIELDS) >= 4:
        return "databuild"
    if any(req in record and resp in record for req, resp in choice.pairs()) or _is_batch_output(record):
        return "openai"
    if "trace_id" in record and "type" in record and ("start_time" in record or "input" in record):
        return "langfuse"
    if "trace_id" in record and ("messages" in record or "startTime" in record or "model_parameters" in record):
        return "litellm"
    if any(key in record for key in DATABUILD_FIELDS):  # a databuild record missing fields: missing_field rows
        return "databuild"
    return None


def _is_batch_output(record: dict[str, Any]) -> bool:
    return "custom_id" in record and isinstance(record.get("response"), dict) and "body" in record["response"]


def file_format(path: Path, lines: Iterator[tuple[int, bytes]], choice: FormatChoice) -> str:
    """The format of the file whose first non-blank lines are `lines` ((line number, bytes) pairs).

    `auto`: the format of the first record that has one. A head with no JSON object at all is read as databuild
    (its lines are bad_record); JSON objects of no known shape are an error. A format given: its first record must
    have that shape (else an error naming the line)."""
    objects = 0
    for number, raw in lines:
        record = _parsed(raw)
        found = record_format(record, choice)
        if choice.log_format != "auto":
            if found != choice.log_format and not (found is None and choice.log_format == "databuild"):
                what = "not a JSON object" if not isinstance(record, dict) else f"keys: {', '.join(list(record)[:8])}"
                raise DatabuildError(
                    f"{path}:{number}: the first record is not in the {choice.log_format} format "
                    f"({_expected(choice)}; {what})"
                )
            return choice.log_format
        if found is not None:
            return found
        objects += isinstance(record, dict)
    if choice.log_format != "auto" or objects == 0:
        return "databuild" if choice.log_format in ("auto", "databuild") else choice.log_format
    raise DatabuildError(
        f"{path} matches no log format (tried {', '.join(DETECTED)} on its first {HEAD_RECORDS} records); "
        "give --log-format, or --pair-keys REQ,RESP for request/response pairs under other keys"
    )


def _expected(choice: FormatChoice) -> str:
    return {
        "databuild": "expected the fields " + ", ".join(DATABUILD_FIELDS),
        "openai": "expected a request/response pair under "
        + ", ".join(f"{req}/{resp}" for req, resp in choice.pairs())
        + " or a Batch API output line {custom_id, response: {body}}",
        "litellm": "expected a LiteLLM StandardLoggingPayload: id, trace_id, startTime, messages",
        "langfuse": "expected a Langfuse observation: id, trace_id, type, start_time, input, output",
    }[choice.log_format]


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
