"""`databuild show`: one dataset version's manifest, readable."""

from __future__ import annotations

from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import FORMATS_TABLE_JSON, StoreOption, check_choice, print_json, store_path, user_errors


@app.command()
def show(
    version: Annotated[str | None, typer.Argument(help="Version name (default: the newest).")] = None,
    store: StoreOption = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json (the manifest).")] = "table",
    pack: Annotated[
        bool,
        typer.Option("--pack", help="Print the version's tool pack (its pack JSON, as stored) instead, to a file."),
    ] = False,
) -> None:
    """Show a version: lineage, command, inputs, accounting, Used/All, augmentation, card.

    Example: databuild show v3 --store store

    Example: databuild show v3 --pack > tools.json
    """
    with user_errors():
        from databuild.cli.common import stdout_console
        from databuild.store import open_store
        from pipelines.show_report import render_manifest
        from pipelines.snapshot_cache import cache_summary

        check_choice("--format", output_format, FORMATS_TABLE_JSON)
        opened = open_store(store_path(store))
        name = opened.resolve(version)
        if pack:
            typer.echo(opened.pack(name).raw.decode("utf-8"), nl=False)
            return
        manifest = opened.manifest(name)
        if output_format == "json":
            print_json(manifest)
            return
        console = stdout_console()
        render_manifest(manifest, opened.lineage(name), opened.card_path(name), console)
        console.print(cache_summary(opened), markup=False, soft_wrap=True, highlight=False)
