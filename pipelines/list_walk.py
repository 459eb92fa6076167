"""Where a gateway line's offered `tools` list lies, and a block of lines cut where the list is already known.

Standard library only: `walk_block` also runs in worker processes (`pipelines.slim_lines.slim_in_workers`), which
should start in a blink. The walk is Python's own JSON scanner over the members before the list (a few short
values), so the place found is the one a JSON reader finds: the first member named in the request keys, and in it
the first member `tools`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

SPACE = " \t\n\r"  # JSON's whitespace
WHITESPACE = re.compile(r"[ \t\n\r]*")
scanstring = json.decoder.scanstring  # type: ignore[attr-defined]  # the C scanner of a JSON string
SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]
Cut = tuple[int, int, int]  # (tools_id, tools_at, tools_chars) of a line whose list was cut


def walk_block(
    lines: list[bytes], keys: frozenset[str], known: dict[str, tuple[str, int]]
) -> tuple[list[str], list[Cut | None], list[tuple[int, int]]] | None:
    """A block's lines decoded, each list found cut where `known` (list text -> (names-only text, tools_id)) has
    it; with the (line index, list start) of each list found but not known, for the caller to learn. None when a
    line is not UTF-8 (the caller decodes that block its own way)."""
    try:
        texts = [line.decode("utf-8") for line in lines]
    except UnicodeDecodeError:
        return None
    cuts: list[Cut | None] = [None] * len(texts)
    pending = []
    for number, text in enumerate(texts):
        at = list_start(text, keys) if '"tools"' in text else None
        if at is None:
            continue
        match = next((t for t in known if text.startswith(t, at)), None)
        if match is None:
            pending.append((number, at))
            continue
        slim, tools_id = known[match]
        texts[number] = text[:at] + slim + text[at + len(match) :]
        cuts[number] = (tools_id, at, len(slim))
    return texts, cuts, pending


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
        _, at = SCAN(text, at)
        if text[at] in SPACE:
            at = WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
        if text[at] != ",":
            return None
        at += 1


def _skip(text: str, at: int) -> int:
    return WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
