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
WORLDS = ("paper", "longtail")
PAPER_DEFAULTS = {"rows": 60_000, "intents": 3_000}
LONGTAIL_DEFAULTS = {"rows": 240_000, "intents": 64_000}  # 320 looks x 200 phrasings


@app.command()
def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "--output", "-o", help="Output file: .jsonl, .jsonl.gz or .parquet (.parquet: databuild only)."
        ),
    ],
    rows: Annotated[
        int | None,
        typer.Option(
            "--rows",
            help="Teacher calls (3 per user request); ~0.2 % duplicated or broken records come on top. "
            "Default: 60000 (paper), 240000 (longtail).",
        ),
    ] = None,
    intents: Annotated[
        int | None,
        typer.Option(
            "--intents",
            help="Distinct intents to draw requests from. Popularity is Zipf-like, so part of the long tail is never "
            "requested: with the defaults 2068 of the 3000 appear in the logs (snapshot's 'intents seen'). "
            "longtail: the phrasings of its 320 looks (default 64000, 200 a look).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same logs).")] = 0,
    world: Annotated[
        str,
        typer.Option(
            "--world",
            help="paper (60 looks, the README's sample) or longtail (320 looks phrased many ways, a noisy teacher, "
            "docs/world.md).",
        ),
    ] = "paper",
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="longtail: write each logged intent's look and true outputs here (JSONL)."),
    ] = None,
    train_share: Annotated[
        float,
        typer.Option(
            "--train-share",
            help="longtail: log only this share of the train intents (by the split of snapshot --seed 0 "
            "--test-fraction 0.1), and every test intent.",
        ),
    ] = 1.0,
    teacher_noise: Annotated[
        float, typer.Option("--teacher-noise", help="longtail: scales how often the teacher is wrong (1 = default).")
    ] = 1.0,
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
    Example: databuild simulate --world longtail --out logs/lt.jsonl.gz --truth lt-truth.jsonl --train-share 0.125
    Example: databuild simulate --out logs/openai.jsonl --log-format openai
    """
    with user_errors():
        from databuild.errors import DatabuildError

        if seed < 0:
            raise DatabuildError(f"--seed must be an integer >= 0, not {seed}")
        if world not in WORLDS:
            raise DatabuildError(f"--world must be one of {', '.join(WORLDS)}, not {world!r}")
        defaults = PAPER_DEFAULTS if world == "paper" else LONGTAIL_DEFAULTS
        rows = defaults["rows"] if rows is None else rows
        intents = defaults["intents"] if intents is None else intents
        if not 3 <= rows <= MAX_ROWS or not 1 <= intents <= MAX_INTENTS:
            raise DatabuildError(
                f"--rows must be between 3 and {MAX_ROWS:,} and --intents between 1 and {MAX_INTENTS:,}"
            )
        if world == "paper":
            written = _paper(out, rows, intents, seed, truth, train_share, teacher_noise, log_format.value)
        elif log_format is not LogFormat.databuild:
            raise DatabuildError("--log-format other than databuild needs --world paper")
        else:
            written = _longtail(out, rows, intents, seed, truth, train_share, teacher_noise)
        if log_format is LogFormat.databuild:
            typer.echo(f"wrote {written} log records to {out}", err=True)
        else:
            from databuild.log_formats import outcomes_path

            outcomes = outcomes_path(out, log_format.value)
            typer.echo(
                f"wrote {written} {log_format.value} completions to {out} and their outcomes to {outcomes}", err=True
            )


def _paper(
    out: Path,
    rows: int,
    intents: int,
    seed: int,
    truth: Path | None,
    train_share: float,
    teacher_noise: float,
    log_format: str,
) -> int:
    from databuild.errors import DatabuildError
    from databuild.packs.colour.simulate import SimulationOptions, write_logs

    if truth is not None or train_share != 1.0 or teacher_noise != 1.0:
        raise DatabuildError("--truth, --train-share and --teacher-noise need --world longtail")
    try:
        return write_logs(SimulationOptions(rows=rows, intents=intents, seed=seed), out, log_format)
    except ValueError as exc:
        raise DatabuildError(str(exc)) from None


def _longtail(
    out: Path, rows: int, intents: int, seed: int, truth: Path | None, train_share: float, teacher_noise: float
) -> int:
    from databuild.errors import DatabuildError
    from databuild.packs.colour.longtail import N_LOOKS, LongtailOptions, write_world

    if not 0 < train_share <= 1:
        raise DatabuildError(f"--train-share must be in (0, 1], not {train_share}")
    if not 0 <= teacher_noise <= 10:
        raise DatabuildError(f"--teacher-noise must be between 0 and 10, not {teacher_noise}")
    options = LongtailOptions(
        rows=rows,
        phrasings_per_look=max(1, intents // N_LOOKS),
        seed=seed,
        teacher_noise=teacher_noise,
        train_share=train_share,
    )
    try:
        return write_world(options, out, truth)
    except ValueError as exc:
        raise DatabuildError(str(exc)) from None
