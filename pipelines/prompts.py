"""Student prompts: one concise template per tool (files under `pipelines/prompts/`), no rationale asked."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from databuild.tools import TOOLS

_PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
PLACEHOLDER = "{intent}"
COMPLETION_PREFIX = "Parameters: "


@cache
def template(tool: str) -> str:
    text = (_PROMPT_DIR / f"{tool}.txt").read_text(encoding="utf-8")
    if text.count(PLACEHOLDER) != 1:
        raise ValueError(f"prompt template for {tool} must contain {PLACEHOLDER} exactly once")
    return text


def template_parts(tool: str) -> tuple[str, str]:
    """(text before the intent, text after it): lets Polars build prompts as one string concat."""
    before, after = template(tool).split(PLACEHOLDER)
    return before, after


def render(tool: str, intent: str) -> str:
    before, after = template_parts(tool)
    return f"{before}{intent}{after}"


def templates_hash() -> str:
    digest = hashlib.sha256()
    for tool in TOOLS:
        digest.update(template(tool).encode())
    return digest.hexdigest()
