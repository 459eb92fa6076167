"""`databuild simulate`: write realistic simulated teacher logs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import user_errors


class LogFormat(StrEnum):
    databuild = "databuild"
    openai = "openai"
    litellm = "litellm"
    langfuse = "langfuse"


MAX_ROWS = 100_000_000  # simulated logs are built in memory
MAX_INTENTS = 10_000_000


@app.command()
def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "--output", "-o", help="Output file: .jsonl, .jsonl.gz or .parquet (.parquet: databuild only)."
        ),
    ],
    rows: Annotated[
        int,
        typer.Option(
            "--rows", help="Teacher calls (3 per user request); ~0.2 % duplicated or broken records come on top."
        ),
    ] = 60_000,
    intents: Annotated[
        int,
        typer.Option(
            "--intents",
            help="Distinct intents to draw requests from. Popularity is Zipf-like, so part of the long tail is never "
            "requested: with the defaults 2068 of the 3000 appear in the logs (snapshot's 'intents seen').",
        ),
    ] = 3_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same logs).")] = 0,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="databuild: one record per tool call. openai, litellm, langfuse: the same traffic as one chat "
            "completion per request, its outcomes beside it in OUT's name with .outcomes.jsonl (langfuse: a scores "
            "export, .scores.jsonl).",
        ),
    ] = LogFormat.databuild,
) -> None:
    """Write simulated teacher-call logs (deterministic, offline).

    Example: databuild simulate --out logs/sample.jsonl.gz --rows 60000 --intents 3000

    Example: databuild simulate --out logs/openai.jsonl --log-format openai
    """
    with user_errors():
        from databuild.errors import DatabuildError
        from databuild.packs.colour.simulate import SimulationOptions, write_logs

        if not 3 <= rows <= MAX_ROWS or not 1 <= intents <= MAX_INTENTS:
            raise DatabuildError(
                f"--rows must be between 3 and {MAX_ROWS:,} and --intents between 1 and {MAX_INTENTS:,}"
            )
        try:
            written = write_logs(SimulationOptions(rows=rows, intents=intents, seed=seed), out, log_format.value)
        except ValueError as exc:
            raise DatabuildError(str(exc)) from None
        if log_format is LogFormat.databuild:
            typer.echo(f"wrote {written} log records to {out}", err=True)
        else:
            from databuild.log_formats import outcomes_path

            outcomes = outcomes_path(out, log_format.value)
            typer.echo(
                f"wrote {written} {log_format.value} completions to {out} and their outcomes to {outcomes}", err=True
            )
