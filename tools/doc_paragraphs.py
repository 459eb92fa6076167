"""No text written twice: every paragraph of README.md and docs/*.md must be unique across them.

    python tools/doc_paragraphs.py      # prints each repeated paragraph with its places; exit 1 if there is one

What counts (tests/test_docs.py runs the same check):
- a *paragraph* is a block of prose lines between blank lines, outside fenced code blocks; each list item is a
  paragraph of its own, and so is each table row (header and separator rows aside). Headings, HTML comments and
  code blocks are not compared: a command or its output may be shown on more than one page;
- a paragraph is compared *normalized*: link targets dropped (`[text](url)` is `text`), Markdown marks (`` ` ``,
  `*`, `_`, `|`) and list bullets removed, whitespace collapsed, case folded; paragraphs of at least 80 characters
  after that are compared (shorter ones are labels such as "Run of …; load not noted.");
- each *sentence* of a paragraph (split after `.`, `;`, `:`, `!` or `?` before a capital, a backtick, a bracket
  or an asterisk) of at least 100 normalized characters is compared too, so a long sentence copied into another
  paragraph is found as well.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIN_PARAGRAPH = 80
MIN_SENTENCE = 100
FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+\.)\s")
TABLE_SEPARATOR = re.compile(r"^\s*\|[\s:|-]+\|\s*$")
SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+(?=[A-Z`(\[*])")


def documentation_files(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph, list item and table row outside code blocks."""
    found: list[tuple[int, str]] = []
    block: list[tuple[int, str]] = []
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            found += _items(block)
            block, in_code = [], not in_code
        elif in_code:
            continue
        elif not line.strip() or line.lstrip().startswith(("#", "<!--")):
            found += _items(block)
            block = []
        elif line.lstrip().startswith("|"):
            found += _items(block)
            block = []
            if not TABLE_SEPARATOR.match(line):
                found.append((number, line))
        else:
            block.append((number, line))
    return found + _items(block)


def _items(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A block's list items, each with its continuation lines, or the block as one paragraph."""
    items: list[tuple[int, list[str]]] = []
    for number, line in block:
        if LIST_ITEM.match(line) or not items:
            items.append((number, [line]))
        else:
            items[-1][1].append(line)
    return [(number, " ".join(lines)) for number, lines in items]


def normalized(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = LIST_ITEM.sub("", text)
    text = re.sub(r"[`*_|]", " ", text)
    return " ".join(text.casefold().split())


def repeated(files: list[Path], repo: Path = REPO) -> dict[str, list[str]]:
    """Each normalized paragraph or long sentence found more than once, with its places (`path:line`)."""
    places: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for number, paragraph in paragraphs(path.read_text(encoding="utf-8")):
            where = f"{path.relative_to(repo)}:{number}"
            whole = normalized(paragraph)
            if len(whole) >= MIN_PARAGRAPH:
                places[whole].append(where)
            sentences = [normalized(s) for s in SENTENCE_END.split(paragraph)]
            for sentence in sentences if len(sentences) > 1 else []:
                if len(sentence) >= MIN_SENTENCE:
                    places[sentence].append(where)
    return {text: where for text, where in places.items() if len(where) > 1}


def main() -> int:
    found = repeated(documentation_files())
    for text, where in found.items():
        print(f"{', '.join(where)}: {text[:160]}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
