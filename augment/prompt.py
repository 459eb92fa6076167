"""The paper's 3-shot "similar user request" prompt (a template file) and the parser for its replies."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATE_PATH = Path(__file__).resolve().parent / "prompts" / "similar_intent.jinja2"
ANSWER_MARKER = "SIMILAR_USER_REQUEST:"

# The marker as models write it: plain, markdown-escaped (`SIMILAR\_USER\_REQUEST`) or emphasised (`**…:**`).
_MARKER = re.compile(r"SIMILAR\\?_USER\\?_REQUEST\W*?:", re.IGNORECASE)
# Emphasis, quotes and list bullets a model wraps around its answer.
_WRAPPING = "*_`\"'“”‘’«»#>-• \t"


@cache
def template_text() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def template_sha256() -> str:
    return hashlib.sha256(template_text().encode("utf-8")).hexdigest()


@cache
def _template() -> Any:
    import jinja2

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return environment.from_string(template_text())


def render_messages(source_intent: str) -> list[dict[str, str]]:
    """Chat messages asking for one request similar to `source_intent`."""
    return [{"role": "user", "content": _template().render(input_user_request=source_intent)}]


def parse_reply(text: str | None) -> str:
    """The proposed request: the first non-empty line after the last `SIMILAR_USER_REQUEST:` marker, else the
    reply's first non-empty line; markdown emphasis, quotes and surrounding whitespace stripped ('' if none)."""
    if not text:
        return ""
    markers = list(_MARKER.finditer(text))
    body = text[markers[-1].end() :] if markers else text
    for line in body.splitlines():
        cleaned = line.strip().strip(_WRAPPING).strip()
        if cleaned:
            return cleaned
    return ""
