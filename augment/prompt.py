"""The paper's few-shot "similar user request" prompt (a template file) and the parser for its replies.

The template is filled from the version's tool pack: its `request` (what a user request is about) and its
`similar_examples` (the shots); a pack without them gets a generic instruction built from its tools' descriptions
and no shots. The colour pack gives the paper's 3-shot prompt.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from databuild.pack import ToolPack, colour_pack

TEMPLATE_PATH = Path(__file__).resolve().parent / "prompts" / "similar_intent.jinja2"

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


def render_messages(source_intent: str, pack: ToolPack | None = None) -> list[dict[str, str]]:
    """Chat messages asking for one request similar to `source_intent` (default pack: the colour pack)."""
    pack = pack or colour_pack()
    content = _template().render(
        input_user_request=source_intent,
        request=pack.request,
        examples=pack.similar_examples,
        tools=[(tool.name, tool.description) for tool in pack.tools],
    )
    return [{"role": "user", "content": content}]


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
