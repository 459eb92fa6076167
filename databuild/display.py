"""Showing user-controlled text to a person: control and bidi characters made visible, never interpreted.

Intents are typed by app users; file names, run ids and manifest fields come from whoever wrote them. Printed raw,
an ESC can retitle a terminal or hide a line, and a bidi override can reorder what a reviewer reads. `visible` is
the one rule every human rendering (terminal tables, Markdown, HTML, `Error:` lines) applies; JSON output keeps the
exact data, with those characters as JSON's own `\\u` escapes (`escaped_json`).
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (newline and tab too: a shown value stays on its line), DEL, C1 controls, the Arabic letter mark,
# LRM/RLM, the line and paragraph separators, and the bidi embeddings, overrides and isolates.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same characters less C0, which json.dumps escapes already.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any) -> str:
    """`str(value)` with every control or bidi character written as its escape (`\\x1b`, `\\u202e`)."""
    return _INVISIBLE.sub(_escape, str(value))


def escaped_json(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with DEL, C1 and bidi characters written as `\\uXXXX`:
    every parser reads the exact same data, and a terminal shows the text as it is. (Such characters can only occur
    inside JSON strings, where the escape means the character itself.)"""
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def rich_text(value: Any, style: str = "") -> Any:
    """A rich `Text` of `visible(value)`: printed as it is, never parsed as console markup (`[/]` stays text)."""
    from rich.text import Text

    return Text(visible(value), style=style)


def setting_text(value: Any) -> str:
    """A manifest value as a person reads it: text as it is, anything else as compact JSON, None as `(unset)`."""
    if value is None:
        return "(unset)"
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def used_share(used: int, total: int) -> str:
    """The Used/All cell: `963 / 1060 (91%)` (no share of an empty split)."""
    return f"{used} / {total}" + (f" ({used / total:.0%})" if total else "")
