"""`databuild diff`: what changed between two dataset versions, per split, intent and tool."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from databuild.cli.app import app
from databuild.cli.common import StoreOption, check_choice, store_path, user_errors

DIFF_FORMATS = ("table", "markdown", "json", "html")


@app.command()
def diff(
    version_a: Annotated[
        str | None,
        typer.Argument(metavar="A", help="Old version (default: B's parent; given alone, B is the newest)."),
    ] = None,
    version_b: Annotated[str | None, typer.Argument(metavar="B", help="New version (default: the newest).")] = None,
    store: StoreOption = None,
    output_format: Annotated[str, typer.Option("--format", help="table, markdown, json or html.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file (atomically).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Rows per table in table/markdown/html (0: all; json: all).")
    ] = 20,
    fail_on_test_change: Annotated[
        bool,
        typer.Option("--fail-on-test-change", help="Exit 1 when the test split differs at all (for dataset CI)."),
    ] = False,
) -> None:
    """Compare two versions: relation, settings, Used/All counts, added/removed/changed intents, split moves.

    Example: databuild diff v1 v2 --format html --output diff.html
    """
    with user_errors():
        from databuild.errors import DatabuildError
        from databuild.store import check_writable_file, open_store
        from pipelines.diff import diff_versions, resolve_pair

        check_choice("--format", output_format, DIFF_FORMATS)
        if limit < 0:
            raise DatabuildError(f"--limit must be 0 (all) or more, not {limit}")
        if output is not None:
            check_writable_file(output, "--output")
        opened = open_store(store_path(store))
        name_a, name_b = resolve_pair(opened, version_a, version_b)
        result = diff_versions(opened, name_a, name_b)
        text = _report_text(result, output_format, limit, to_file=output is not None)
        if output is not None:
            _write_report(output, text)
        elif text:
            typer.echo(text, nl=False)
        if fail_on_test_change and result.split_differs("test"):
            test = result.payload["splits"]["test"]
            counts = ", ".join(f"{len(test[kind])} {kind}" for kind in ("added", "removed", "changed"))
            typer.echo(f"test split changed between {name_a} and {name_b}: {counts}", err=True)
            raise typer.Exit(1)


def _report_text(result: Any, output_format: str, limit: int, to_file: bool) -> str:
    """The report as text; a table meant for the terminal is printed there instead (and "" returned)."""
    import json

    from databuild.display import escaped_json
    from pipelines.report import render_html, render_markdown, render_table

    if output_format == "json":
        return escaped_json(json.dumps(result.payload, indent=2, ensure_ascii=False)) + "\n"
    if output_format == "markdown":
        return render_markdown(result, limit)
    if output_format == "html":
        return render_html(result, limit)
    if to_file:
        import io

        from rich.console import Console

        buffer = io.StringIO()
        render_table(result, Console(file=buffer, width=120, color_system=None, soft_wrap=True), limit)
        return buffer.getvalue()
    from databuild.cli.common import stdout_console

    render_table(result, stdout_console(), limit)
    return ""


def _write_report(output: Path, text: str) -> None:
    from databuild.display import visible
    from databuild.store import atomic_write_text

    atomic_write_text(output, text)  # with the umask's permissions: a report to share
    typer.echo(f"wrote {visible(output)}", err=True)
