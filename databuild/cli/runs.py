"""`databuild runs`: the trained students in the store, with the version each learned from and its score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    FORMATS_TABLE_JSON,
    StoreOption,
    TableOrJsonOption,
    check_choice,
    print_json,
    store_path,
    user_errors,
)


@app.command()
def runs(
    store: StoreOption = None,
    output_format: TableOrJsonOption = "table",
) -> None:
    """List training runs (STORE/runs/): version, model, mode, epochs, selected score (all fields: --format json).

    Example: databuild runs --format json
    """
    with user_errors():
        check_choice("--format", output_format, FORMATS_TABLE_JSON)
        from databuild.store import open_store
        from train.runs import list_runs

        found = list_runs(open_store(store_path(store)))
        if output_format == "json":
            print_json(found)
        elif not found:
            typer.echo("no runs yet (databuild train)", err=True)
        else:
            _print_table(found)


def _print_table(found: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    from databuild.cli.common import stdout_console
    from databuild.display import rich_text, visible

    # no borders, one space between columns: a run id (26 characters) and every header fit 80 columns
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0)
    table.add_column("run", no_wrap=True, min_width=max([len(visible(r["run_id"])) for r in found], default=3))
    for column in ("status", "version", "model", "mode", "epochs", "selected", "overall"):
        table.add_column(column, min_width=len(column))
    for run in found:
        overall = run["overall"]
        cells = (
            run["run_id"],
            run["status"],
            run["version"],
            Path(str(run["model"])).name,
            run["mode"],
            f"{run['epochs_done']}/{run['epochs']}",
            run["selected_epoch"] or "-",
            "-" if overall is None else f"{overall:.4f}",
        )
        table.add_row(*(rich_text(cell) for cell in cells))
    stdout_console().print(table)
