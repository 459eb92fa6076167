"""`databuild eval`: score a predictions file against a version's ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import StoreOption, check_choice, print_json, stdout_console, store_path, user_errors

EVAL_FORMATS = ("table", "json", "markdown")
EVAL_SPLITS = ("train", "test")


@app.command("eval")
def eval_command(
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Predictions JSONL (see `databuild predict`).")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Dataset version (default: the newest).")] = None,
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    output_format: Annotated[str, typer.Option("--format", help="table, json or markdown.")] = "table",
    store: StoreOption = None,
) -> None:
    """Score predictions per tool (selection, quality, final) and overall, on all / r3 / r5 intents.

    Words: sel = selection F1 (did the student use the tool when the teacher did); qual = quality, on the intents
    where both used it (cosine of the numeric parameters, or 1/0 for an exact match such as a filter name); final =
    harmonic mean of sel and qual; overall = mean of the tools' final. Subsets: all = every intent of the split;
    r3 / r5 = the intents with at least 3 / 5 distinct requests in the logs (n_calls).

    Example: databuild eval --version v1 --split test --predictions preds.jsonl --format json
    """
    with user_errors():
        import polars as pl

        from databuild.contracts import load_rows
        from databuild.errors import DatabuildError
        from databuild.evaluation import evaluate, read_predictions
        from databuild.store import open_store
        from pipelines.eval_report import render_markdown, render_table

        check_choice("--format", output_format, EVAL_FORMATS)
        check_choice("--split", split, EVAL_SPLITS)
        if predictions is None:
            raise DatabuildError("--predictions is required (a JSONL file, e.g. from `databuild predict`)")
        opened = open_store(store_path(store))
        name = opened.resolve(version)
        pack = opened.pack(name)
        predicted = read_predictions(predictions, pack)
        truth = load_rows(opened, name).filter(pl.col("split") == split)
        result = evaluate(truth, predicted, name, split, pack)
        if output_format == "json":
            print_json(result)
        elif output_format == "markdown":
            typer.echo(render_markdown(result), nl=False)
        else:
            stdout_console().print(render_table(result))
