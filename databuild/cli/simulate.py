"""`databuild simulate`: write realistic simulated teacher logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from databuild.cli.app import app
from databuild.cli.common import user_errors

MAX_ROWS = 100_000_000  # simulated logs are built in memory
MAX_INTENTS = 10_000_000


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "--output", "-o", help="Output file: .jsonl, .jsonl.gz or .parquet.")],
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
) -> None:
    """Write simulated teacher-call logs (deterministic, offline).

    Example: databuild simulate --out logs/sample.jsonl.gz --rows 60000 --intents 3000
    """
    with user_errors():
        from databuild.errors import DatabuildError
        from databuild.packs.colour.simulate import SimulationOptions, write_logs

        if seed < 0:
            raise DatabuildError(f"--seed must be an integer >= 0, not {seed}")
        if not 3 <= rows <= MAX_ROWS or not 1 <= intents <= MAX_INTENTS:
            raise DatabuildError(
                f"--rows must be between 3 and {MAX_ROWS:,} and --intents between 1 and {MAX_INTENTS:,}"
            )
        try:
            written = write_logs(SimulationOptions(rows=rows, intents=intents, seed=seed), out)
        except ValueError as exc:
            raise DatabuildError(str(exc)) from None
        typer.echo(f"wrote {written} log records to {out}", err=True)
