"""Gateway lines as the readers need them: a request's offered `tools` list cut down to the tools' names.

A gateway logs every request with the definitions of the tools it offers, the same list on every line (3.7 KB of
a 4.4 KB simulated openai line), and the readers (`sql/07_<format>_completions.sql`) read nothing of it but the
names (`offered_tools`). So while a block of lines loads, each line's list, where the request keeps it (the first
member `request`, `request_body`, `reqPayload` or the --pair-keys request of an openai line, `model_parameters` of
a LiteLLM one: the one each reader reads, as DuckDB reads the first of repeated keys), is replaced by its names
(`sql/05_slim_tools.sql`, checked there to give offered_tools the same names). Each distinct list text is kept
once (`gateway_tools`), with where it was cut from each line, so the original line comes back byte for byte where
the quarantine shows it (`37_file_quarantine`): `line[:at] + tools + line[at + chars:]`.

The walk to the list is Python's own JSON scanner over the members before it (a few short values); the list itself
is compared with the texts already seen before anything of it is parsed. Langfuse keeps its request inside a JSON
string and is left as it is, and so is any line whose list is not found or not understood, a list that DuckDB
reads differently, every line of a file after MAX_TEXTS distinct lists, and every line when --outcome-field points
into the list: only the speed depends on it, never a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from databuild.sqlrun import run_model

OPENAI_REQUEST_KEYS = ("request", "request_body", "reqPayload")
LITELLM_REQUEST_KEYS = ("model_parameters",)
MAX_TEXTS = 64  # distinct lists learnt in one file; past them its lines stay whole (tools that differ per request)
TOOLS_SCHEMA = {"tools_id": pl.Int32, "tools_at": pl.Int32, "tools_chars": pl.Int32}
SPACE = " \t\n\r"  # JSON's whitespace
WHITESPACE = re.compile(r"[ \t\n\r]*")
scanstring = json.decoder.scanstring  # type: ignore[attr-defined]  # the C scanner of a JSON string
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def request_keys(pair_request_key: str | None, outcome_field: str | None) -> dict[str, frozenset[str]]:
    """Per log format, the top-level members whose `tools` list is cut: none for a format when --outcome-field
    reads inside such a list (the value must stay)."""
    keys = {
        "openai": frozenset(OPENAI_REQUEST_KEYS + ((pair_request_key,) if pair_request_key else ())),
        "litellm": frozenset(LITELLM_REQUEST_KEYS),
    }
    parts = outcome_field.split(".") if outcome_field else []
    if len(parts) > 1 and parts[1] == "tools":
        keys = {log_format: found for log_format, found in keys.items() if parts[0] not in found}
    return keys


@dataclass
class _Known:
    text: str
    slim: str
    tools_id: int


@dataclass
class ToolsSlimmer:
    """Cuts the lists of one build's gateway lines; learns each distinct list once (a DuckDB query) and records it
    in the session's `gateway_tools(tools_id, tools)`."""

    con: Any
    keys: dict[str, frozenset[str]]
    known: list[_Known] = field(default_factory=list)  # the lists seen, the last one met first
    refused: set[str] = field(default_factory=set)  # texts slim_tools gave NULL for
    learnt: int = 0  # lists learnt (known or refused): the next tools_id
    learnt_in_file: int = 0
    file_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        run_model(self.con, "05_slim_tools")

    def start_file(self, log_format: str) -> None:
        self.learnt_in_file, self.file_keys = 0, self.keys.get(log_format, frozenset())

    def slim(self, lines: list[str]) -> dict[str, list[Any]]:
        """The block's lines with their lists cut, and per line (tools_id, tools_at, tools_chars), None where whole."""
        out: dict[str, list[Any]] = {"line": lines, "tools_id": [], "tools_at": [], "tools_chars": []}
        if not self.file_keys:
            return WholeLines().slim(lines)
        ids, starts, sizes = out["tools_id"], out["tools_at"], out["tools_chars"]
        for number, line in enumerate(lines):
            at = list_start(line, self.file_keys) if '"tools"' in line else None
            known = self._match(line, at) if at is not None else None
            if at is None or known is None:
                ids.append(None)
                starts.append(None)
                sizes.append(None)
                continue
            lines[number] = line[:at] + known.slim + line[at + len(known.text) :]
            ids.append(known.tools_id)
            starts.append(at)
            sizes.append(len(known.slim))
        return out

    def _match(self, line: str, at: int) -> _Known | None:
        for position, known in enumerate(self.known):
            if line.startswith(known.text, at):
                if position:
                    self.known.insert(0, self.known.pop(position))
                return known
        if self.learnt_in_file >= MAX_TEXTS or any(line.startswith(text, at) for text in self.refused):
            return None
        try:
            _, end = _SCAN(line, at)
        except (StopIteration, ValueError, RecursionError):
            return None
        return self._learn(line[at:end])

    def _learn(self, text: str) -> _Known | None:
        self.learnt_in_file += 1
        self.learnt += 1
        slim = self.con.execute("SELECT slim_tools($tools)", {"tools": text}).fetchall()[0][0]  # the result finished
        if slim is None:
            self.refused.add(text)
            return None
        known = _Known(text, slim, self.learnt)
        self.con.execute("INSERT INTO gateway_tools VALUES ($id, $tools)", {"id": known.tools_id, "tools": text})
        self.known.insert(0, known)
        return known


class WholeLines:
    """Gateway lines kept whole (`--tools from-logs` reads the definitions)."""

    def slim(self, lines: list[str]) -> dict[str, list[Any]]:
        return {"line": lines, **{column: [None] * len(lines) for column in TOOLS_SCHEMA}}


def list_start(line: str, request_keys: Iterable[str]) -> int | None:
    """Where the `tools` list of the line's request starts: the first member of the top-level object whose key is
    one of `request_keys`, and in it (an object) the first member `tools` (an array); None when there is none or the
    line is not JSON that far."""
    try:
        at = _member(line, _skip(line, 0), request_keys)
        if at is None or line[at] != "{":
            return None
        at = _member(line, at, ("tools",))
        return at if at is not None and line[at] == "[" else None
    except (IndexError, StopIteration, ValueError, RecursionError):
        return None


def _member(text: str, at: int, keys: Iterable[str]) -> int | None:
    """Where the value of the first member named in `keys` starts, in the object starting at `at` (whitespace
    skipped inline: this runs for every line)."""
    if text[at] != "{":
        return None
    at += 1
    while True:
        if text[at] in SPACE:
            at = WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        if text[at] != '"':
            return None
        key, at = scanstring(text, at + 1)
        if text[at] in SPACE:
            at = WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        if text[at] != ":":
            return None
        at += 1
        if text[at] in SPACE:
            at = WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        if key in keys:
            return at
        _, at = _SCAN(text, at)
        if text[at] in SPACE:
            at = WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        if text[at] != ",":
            return None
        at += 1


def _skip(text: str, at: int) -> int:
    return WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
