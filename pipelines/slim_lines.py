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

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from databuild.errors import DatabuildError
from databuild.sqlrun import run_model
from pipelines.list_walk import SCAN, Cut, list_start, walk_block

OPENAI_REQUEST_KEYS = ("request", "request_body", "reqPayload")
LITELLM_REQUEST_KEYS = ("model_parameters",)
MAX_TEXTS = 64  # distinct lists learnt in one file; past them its lines stay whole (tools that differ per request)
TOOLS_SCHEMA = {"tools_id": pl.Int32, "tools_at": pl.Int32, "tools_chars": pl.Int32}


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
        if not self.file_keys:
            return WholeLines().slim(lines)
        found = ((number, list_start(line, self.file_keys)) for number, line in enumerate(lines) if '"tools"' in line)
        return self.finish(lines, [None] * len(lines), [(number, at) for number, at in found if at is not None])

    def finish(self, texts: list[str], cuts: list[Cut | None], pending: list[tuple[int, int]]) -> dict[str, list[Any]]:
        """The columns of a block whose lists are cut (`cuts`) or found and still to match (`pending`: line index,
        list start), in line order: lists not known yet are learnt here, in the order of the file."""
        for number, at in pending:
            known = self._match(texts[number], at)
            if known is not None:
                line = texts[number]
                texts[number] = line[:at] + known.slim + line[at + len(known.text) :]
                cuts[number] = (known.tools_id, at, len(known.slim))
        return {
            "line": texts,
            **{column: [cut[i] if cut else None for cut in cuts] for i, column in enumerate(TOOLS_SCHEMA)},
        }

    def known_texts(self) -> dict[str, tuple[str, int]]:
        """The lists learnt so far: text -> (the names-only text, tools_id), for `walk_block`."""
        return {known.text: (known.slim, known.tools_id) for known in self.known}

    def _match(self, line: str, at: int) -> _Known | None:
        for position, known in enumerate(self.known):
            if line.startswith(known.text, at):
                if position:
                    self.known.insert(0, self.known.pop(position))
                return known
        if self.learnt_in_file >= MAX_TEXTS or any(line.startswith(text, at) for text in self.refused):
            return None
        try:
            _, end = SCAN(line, at)
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


def slim_in_workers(
    blocks: Iterator[tuple[int, list[bytes]]], slimmer: ToolsSlimmer, workers: int
) -> Iterator[tuple[int, list[bytes], dict[str, list[Any]] | None]]:
    """(first line, lines, columns) per block of a big gateway file, the walks to the lists done by `workers`
    processes while this one loads the blocks before; the columns are `slimmer.slim`'s, None for a block that is
    not all UTF-8 (the caller decodes it its own way). Lists are learnt here, in the file's order, exactly as
    `slim` learns them: the result does not depend on which process walked."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ahead: deque[tuple[int, list[bytes], Any]] = deque()
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for first_line, lines in blocks:
                walk = pool.submit(walk_block, lines, slimmer.file_keys, slimmer.known_texts())
                ahead.append((first_line, lines, walk))
                if len(ahead) > 2 * workers:  # a bounded number of blocks in flight: memory stays flat
                    yield _walked(ahead.popleft(), slimmer)
            while ahead:
                yield _walked(ahead.popleft(), slimmer)
    except BrokenProcessPool as exc:
        raise DatabuildError(f"a worker process reading the gateway lines stopped ({exc})") from None


def _walked(
    block: tuple[int, list[bytes], Any], slimmer: ToolsSlimmer
) -> tuple[int, list[bytes], dict[str, list[Any]] | None]:
    first_line, lines, walk = block
    walked = walk.result()
    return first_line, lines, None if walked is None else slimmer.finish(*walked)
