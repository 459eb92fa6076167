"""`databuild versions`: list the dataset versions of a store."""

from __future__ import annotations

from typing import Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    StoreOption,
    TableOrJsonOption,
    check_choice,
    print_json,
    stdout_console,
    store_path,
    user_errors,
)


@app.command()
def versions(
    store: StoreOption = None,
    output_format: TableOrJsonOption = "table",
) -> None:
    """List dataset versions: name, created, parent, train/test rows, fingerprint.

    Example: databuild versions --store store
    """
    with user_errors():
        from databuild.display import visible
        from databuild.store import open_store

        check_choice("--format", output_format, ("table", "json"))
        the_store = open_store(store_path(store))
        listing = the_store.version_summaries()
        for name, problem in the_store.broken_versions():
            typer.echo(f"warning: version {name} is broken and left out: {visible(problem)}", err=True)
        if output_format == "json":
            print_json(listing)
        elif not listing:
            typer.echo(f"no versions in {visible(the_store.root)}", err=True)
        else:
            _print_table(listing)


def _print_table(listing: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from databuild.display import rich_text

    table = Table()
    for column in ("name", "created", "parent", "train", "test", "fingerprint"):
        table.add_column(column)
    for item in listing:
        cells = (
            item["name"],
            item["created_at"],
            item["parent"] or "-",
            item["train_rows"],
            item["test_rows"],
            str(item["fingerprint"])[:23],
        )
        table.add_row(*(rich_text(cell) for cell in cells))
    stdout_console().print(table)
