"""`databuild export`: a version's rows, SFT pairs or quarantine as Parquet, JSON Lines or CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import StoreOption, store_path, user_errors


@app.command("export")
def export_command(
    version: Annotated[str, typer.Argument(help="Version to export (v1, v2, …).")],
    file_format: Annotated[str | None, typer.Option("--format", help="parquet, jsonl or csv.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory for the files (created if missing).")
    ] = None,
    what: Annotated[
        str, typer.Option("--what", help="rows, sft (one file per split) or quarantine (one file).")
    ] = "rows",
    store: StoreOption = None,
) -> None:
    """Write a version's rows, sft or quarantine as plain files: one per split, same columns and order.

    Example: databuild export v1 --format parquet -o exports/v1  (then: SELECT * FROM 'exports/v1/train.parquet')
    """
    with user_errors():
        from databuild.cli.common import stdout_console
        from databuild.errors import DatabuildError
        from databuild.store import open_store
        from pipelines.export import export_version

        if file_format is None:
            raise DatabuildError("--format is required (parquet, jsonl or csv)")
        if output is None:
            raise DatabuildError("--output is required (the directory to write the files into)")
        summary = export_version(open_store(store_path(store)), version, what, file_format, output)
        console = stdout_console()
        for written in summary["files"]:
            console.print(f"wrote {written['path']} ({written['rows']} rows)")
