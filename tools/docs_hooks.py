"""MkDocs hooks of the documentation site (`mkdocs.yml` names this file; `make docs` builds the site).

Two pages are made at build time, so that neither can drift from its source:
- `index.md` (Getting started) includes README.md where it says `<!-- include: README.md -->`; the README's links
  into `docs/` are rewritten to the site's pages (`docs/store.md#the-cache` becomes `store.md#the-cache`);
- `cli.md` (the CLI reference) is generated from the typer app: one section per command, its `--help` text as
  `databuild COMMAND --help` prints it.

The tests import this file by path (`tests/test_docs.py`) to check the reference against the app.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"^<!-- include: (?P<path>[\w./-]+) -->$", re.MULTILINE)
DOCS_LINK = re.compile(r"\]\(docs/")  # a Markdown link target into docs/, as the README writes it for GitHub
CLI_PAGE = "cli.md"
HELP_WIDTH = 100


def click_app() -> Any:
    """The databuild CLI as a click group (the checkout's code, not whatever databuild is installed)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import typer.main

    from databuild.cli import app

    return typer.main.get_command(app)


def command_help(group: Any, name: str | None) -> str:
    """What `databuild [NAME] --help` prints, at a fixed width."""
    root = group.make_context("databuild", [], resilient_parsing=True, terminal_width=HELP_WIDTH)
    if name is None:
        return group.get_help(root)
    command = group.commands[name]
    context = command.make_context(name, [], parent=root, resilient_parsing=True, terminal_width=HELP_WIDTH)
    return command.get_help(context)


def cli_reference_markdown() -> str:
    """The CLI reference page: every command of the app in workflow order, with its help text."""
    group = click_app()
    root = group.make_context("databuild", [], resilient_parsing=True)
    names = group.list_commands(root)
    lines = [
        "# CLI reference",
        "",
        "Generated from the typer app when the site is built (`tools/docs_hooks.py`): each section is what",
        "`databuild COMMAND --help` prints. Every command also takes the global `--debug` (show tracebacks).",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name in names:
        summary = group.commands[name].get_short_help_str(limit=200)
        lines.append(f"| [`databuild {name}`](#databuild-{name}) | {summary} |")
    lines += ["", "## databuild", "", "```text", command_help(group, None).rstrip(), "```", ""]
    for name in names:
        lines += [f"## databuild {name}", "", "```text", command_help(group, name).rstrip(), "```", ""]
    return "\n".join(lines)


def include_files(markdown: str) -> str:
    """`<!-- include: PATH -->` lines replaced by the file at PATH (relative to the repository), links into docs/
    made relative to the site."""

    def included(match: re.Match[str]) -> str:
        text = (REPO / match.group("path")).read_text(encoding="utf-8")
        return DOCS_LINK.sub("](", text)

    return INCLUDE.sub(included, markdown)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, CLI_PAGE, content=cli_reference_markdown()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return include_files(markdown)
