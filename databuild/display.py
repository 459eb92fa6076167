"""Showing user-controlled text to a person: control, bidi and other format characters made visible, never obeyed.

Intents are typed by app users; file names, run ids and manifest fields come from whoever wrote them. Printed raw,
an ESC can retitle a terminal or hide a line, and a bidi override can reorder what a reviewer reads. `visible` is
the one rule every human rendering (terminal tables, Markdown, HTML, `Error:` lines) applies; JSON output keeps the
exact data, with those characters as JSON's own `\\u` escapes (`escaped_json`).
"""

from __future__ import annotations

import re
from typing import Any

# Unicode's format characters (category Cf, Unicode 14): zero-width spaces and joiners, the word joiner, the
# byte order mark, the soft hyphen, invisible operators, tag characters, and the bidi marks, embeddings, overrides
# and isolates among them. They show nothing, or reorder what is shown (tests/cli/test_display.py checks the list
# against `unicodedata`).
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# C0 controls (newline and tab too: a shown value stays on its line), DEL, C1 controls, the line and paragraph
# separators, and the format characters.
_INVISIBLE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}]")
# The same characters less C0, which json.dumps escapes already.
_JSON_RAW = re.compile(f"[\x7f-\x9f\u2028\u2029{_FORMAT}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(value: Any) -> str:
    """`str(value)` with every control, bidi or other format character written as its escape (`\\x1b`, `\\u202e`,
    `\\u200b`)."""
    return _INVISIBLE.sub(_escape, str(value))


def escaped_json(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with DEL, C1 and bidi characters written as `\\uXXXX`:
    every parser reads the exact same data, and a terminal shows the text as it is. (Such characters can only occur
    inside JSON strings, where the escape means the character itself.)"""
    return _JSON_RAW.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    """JSON's `\\uXXXX`, as a surrogate pair beyond the BMP (JSON has no longer escape)."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


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
