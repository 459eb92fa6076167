"""`databuild predict`: run a student over a version's split and write a predictions file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    FORMATS_TABLE_JSON,
    StoreOption,
    check_choice,
    print_json,
    stderr_console,
    stdout_console,
    store_path,
    user_errors,
)

PREDICT_SPLITS = ("train", "test")


@app.command("predict")
def predict_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Predictions JSONL to write (replaced whole).")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Dataset version (default: the run's own version for a trained student, else the newest).",
        ),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="train or test (train: kNN is leave-one-out).")] = "test",
    student: Annotated[
        str, typer.Option("--student", help="'knn' (embedded) or a trained run directory / run id.")
    ] = "knn",
    output_format: Annotated[str, typer.Option("--format", help="table or json (the summary).")] = "table",
    store: StoreOption = None,
) -> None:
    """Answer every intent of a split with a student, as a predictions file for `databuild eval`.

    Example: databuild predict --version v1 --split test --student knn --output preds.jsonl
    """
    with user_errors():
        from databuild.cli.students import load_student, trained_on
        from databuild.display import rich_text
        from databuild.errors import DatabuildError
        from databuild.store import check_writable_file, open_store
        from databuild.students import run_prediction

        check_choice("--format", output_format, FORMATS_TABLE_JSON)
        check_choice("--split", split, PREDICT_SPLITS)
        if output is None:
            raise DatabuildError("--output is required (the predictions JSONL to write)")
        check_writable_file(output, "--output")
        opened = open_store(store_path(store))
        run_version = trained_on(student, opened)
        name = opened.resolve(version or run_version)
        if run_version and name != run_version:
            stderr_console().print(
                rich_text(f"note: {student} was trained on {run_version}; predicting {name} as asked")
            )
        stderr_console().print(rich_text(f"predicting {name}/{split} with student {student!r}", "dim"))
        summary = run_prediction(opened, name, split, load_student(student, opened, name), output)
        if output_format == "json":
            print_json(summary)
        else:
            console = stdout_console()
            for key, value in summary.items():
                console.print(rich_text(f"{key}: {value}"))
            console.print(rich_text(f"written: {output}"))
