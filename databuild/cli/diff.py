"""`databuild diff`: what changed between two dataset versions, per split, intent and tool."""

from __future__ import annotations

from pathlib import Path

import typer

from databuild.cli.app import app
from databuild.cli.common import STORE_OPTION, check_choice, store_path, user_errors

DIFF_FORMATS = ("table", "markdown", "json", "html")


@app.command()
def diff(
    version_a: str | None = typer.Argument(
        None, metavar="A", help="Old version (default: B's parent; given alone, B is the newest)."
    ),
    version_b: str | None = typer.Argument(None, metavar="B", help="New version (default: the newest)."),
    store: Path | None = STORE_OPTION,
    output_format: str = typer.Option("table", "--format", help="table, markdown, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file (atomically)."),
    limit: int = typer.Option(20, "--limit", help="Rows per table in table/markdown/html (0: all; json: all)."),
    fail_on_test_change: bool = typer.Option(
        False, "--fail-on-test-change", help="Exit 1 when the test split differs at all (for dataset CI)."
    ),
) -> None:
    """Compare two versions: relation, settings, Used/All counts, added/removed/changed intents, split moves.

    Example: databuild diff v1 v2 --format html --output diff.html
    """
    with user_errors():
        import io
        import json
        import os

        from databuild.cli.common import stdout_console
        from databuild.display import escaped_json, visible
        from databuild.errors import DatabuildError
        from databuild.store import atomic_write_text, check_writable_file, open_store
        from pipelines.diff import diff_versions, resolve_pair
        from pipelines.report import render_html, render_markdown, render_table

        check_choice("--format", output_format, DIFF_FORMATS)
        if limit < 0:
            raise DatabuildError(f"--limit must be 0 (all) or more, not {limit}")
        if output is not None:
            check_writable_file(output, "--output")
        opened = open_store(store_path(store))
        name_a, name_b = resolve_pair(opened, version_a, version_b)
        result = diff_versions(opened, name_a, name_b)

        if output_format == "json":
            text = escaped_json(json.dumps(result.payload, indent=2, ensure_ascii=False)) + "\n"
        elif output_format == "markdown":
            text = render_markdown(result, limit)
        elif output_format == "html":
            text = render_html(result, limit)
        elif output is not None:
            from rich.console import Console

            buffer = io.StringIO()
            render_table(result, Console(file=buffer, width=120, color_system=None, soft_wrap=True), limit)
            text = buffer.getvalue()
        else:
            text = ""
            render_table(result, stdout_console(), limit)

        if output is not None:
            atomic_write_text(output, text)
            umask = os.umask(0)
            os.umask(umask)
            output.chmod(0o666 & ~umask)  # a report to share, not a private temp file (mkstemp makes 0600)
            typer.echo(f"wrote {visible(output)}", err=True)
        elif text:
            typer.echo(text, nl=False)
        if fail_on_test_change and result.split_differs("test"):
            test = result.payload["splits"]["test"]
            counts = ", ".join(f"{len(test[kind])} {kind}" for kind in ("added", "removed", "changed"))
            typer.echo(f"test split changed between {name_a} and {name_b}: {counts}", err=True)
            raise typer.Exit(1)
