"""`databuild augment`: mine the student's mistakes, generate similar intents, write the next version(s)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    StoreOption,
    TableOrJsonOption,
    check_choice,
    options_from,
    print_json,
    recorded_command,
    stdout_console,
    store_path,
    user_errors,
)

AUGMENT_FORMATS = ("table", "json")
AUGMENT_GENERATORS = ("auto", "openai", "neighbors")


class _RichProgress:
    """A progress bar on stderr while generating (hidden when stderr is not a terminal)."""

    def __init__(self) -> None:
        from databuild.cli.common import stderr_console

        self.console = stderr_console()
        self._progress: Any = None

    def start(self, description: str, total: int) -> Callable[[], None]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task(description, total=total)
        progress = self._progress
        return lambda: progress.advance(task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def note(self, message: str) -> None:
        from databuild.display import rich_text

        self.console.print(rich_text(message))


# The options, named like `augment.loop.AugmentOptions`' fields (the command builds its options from them).
_Version = Annotated[str | None, typer.Option("--version", help="Version to start from (default: the newest).")]
_Iterations = Annotated[int, typer.Option("--iterations", help="Mine → generate → filter → add rounds.")]
_Student = Annotated[
    str | None, typer.Option("--student", help="'knn' (default; embedded, leave-one-out) or a trained run.")
]
_Predictions = Annotated[
    Path | None,
    typer.Option(
        "--predictions", help="A student's predictions on the train split (eval format); --iterations 1 only."
    ),
]
_Sample = Annotated[int, typer.Option("--sample", help="Teacher train rows mined per iteration (seeded).")]
_PerMistake = Annotated[int, typer.Option("--per-mistake", help="Candidates generated per mistaken intent.")]
_Generator = Annotated[str, typer.Option("--generator", help="auto, openai or neighbors (offline).")]
_Model = Annotated[str, typer.Option("--model", help="Model name sent to the OpenAI-compatible endpoint.")]
_BaseUrl = Annotated[str | None, typer.Option("--base-url", help="Endpoint (default: $OPENAI_BASE_URL or OpenAI).")]
_Concurrency = Annotated[int, typer.Option("--concurrency", help="Requests in flight at most.")]
_MaxRetries = Annotated[int, typer.Option("--max-retries", help="Retries of a rate-limited / timed-out / 5xx request.")]
_Timeout = Annotated[float, typer.Option("--timeout", help="Seconds before one request attempt times out.")]
_NearDup = Annotated[float, typer.Option("--near-dup", help="Reject candidates this close (cosine) to a test intent.")]
_MinSimilarity = Annotated[float, typer.Option("--min-similarity", help="neighbors: least cosine to the source.")]
_Seed = Annotated[int, typer.Option("--seed", help="Seed of the mined sample and of the generation requests.")]


@app.command()
def augment(
    ctx: typer.Context,
    store: StoreOption = None,
    version: _Version = None,
    iterations: _Iterations = 1,
    student: _Student = None,
    predictions: _Predictions = None,
    sample: _Sample = 1000,
    per_mistake: _PerMistake = 1,
    generator: _Generator = "auto",
    model: _Model = "gpt-4",
    base_url: _BaseUrl = None,
    concurrency: _Concurrency = 16,
    max_retries: _MaxRetries = 6,
    timeout: _Timeout = 60.0,
    near_dup: _NearDup = 0.95,
    min_similarity: _MinSimilarity = 0.6,
    seed: _Seed = 0,
    output_format: TableOrJsonOption = "table",
) -> None:
    """Grow the train split where the student fails: one new dataset version per iteration.

    Words in the report: mined (sample) = the train rows drawn (seeded, --sample) and answered by the student;
    mistakes: TOOL = mined intents whose score for that tool is below its baseline cosine (cosine tools) or below 1
    (exact tools, e.g. a wrong filter name); mistakes: intents = intents with any mistake; baseline cosine: TOOL =
    the student's mean cosine on the sample at this lineage's first augmentation, then frozen; candidates =
    generated intents; accepted = those that passed every filter (rejected: the reason of each other one).

    Example: databuild augment --iterations 1 --student knn --generator openai --model gpt-4 --concurrency 16
    """
    with user_errors():
        from augment.loop import AugmentLoop, AugmentOptions, generator_note, redact_url
        from databuild.cli.students import load_student
        from databuild.store import open_store

        check_choice("--format", output_format, AUGMENT_FORMATS)
        check_choice("--generator", generator, AUGMENT_GENERATORS)
        options = options_from(AugmentOptions, ctx.params)
        command = recorded_command({base_url: redact_url(base_url) or ""} if base_url else None)
        opened = open_store(store_path(store))

        def student_for(version_name: str) -> Any:
            return load_student(options.student_spec, opened, version_name)

        loop = AugmentLoop(opened, options, command, _RichProgress(), student_factory=student_for)  # validates
        note = generator_note(generator, loop.generator_name)
        if note:
            typer.echo(note, err=True)
        _print_results(loop.run(), output_format)


def _print_results(results: list[Any], output_format: str) -> None:
    if output_format == "json":
        for result in results:
            if result.unchanged:
                typer.echo(f"iteration {result.iteration}: unchanged: identical to {result.version}", err=True)
        print_json({"iterations": [result.as_json() for result in results]})
        return
    _print_table(results)


def _print_table(results: list[Any]) -> None:
    """One column per iteration, one line per figure (fits a terminal however many reasons there are)."""
    from rich.table import Table

    from augment.filters import REJECTION_REASONS

    table = Table(title="databuild augment", title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(f"iteration {r.iteration}", justify="right")

    def line(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    line("parent", [r.parent for r in results])
    line("new version", [f"{r.version} (unchanged)" if r.unchanged else r.version for r in results])
    line("generator", [r.generator for r in results])
    line("mined (sample)", [str(r.mined) for r in results])
    for key in results[0].mistakes:  # the pack's tools, then "intents"
        line(f"mistakes: {key}", [str(r.mistakes[key]) for r in results])
    for key in results[0].baseline_cosine:  # the pack's cosine tools
        line(f"baseline cosine: {key}", [f"{r.baseline_cosine[key]:.3f}" for r in results])
    line("candidates", [str(r.candidates) for r in results])
    line("accepted", [str(r.accepted) for r in results])
    for reason in REJECTION_REASONS:
        line(f"rejected: {reason}", [str(r.rejected[reason]) for r in results])
    line("calls made/cached/failed", [f"{r.calls['made']}/{r.calls['cached']}/{r.calls['failed']}" for r in results])
    line("tokens prompt/completion", [f"{r.tokens['prompt']}/{r.tokens['completion']}" for r in results])
    line(
        "estimated cost (USD)",
        ["unknown" if r.estimated_cost_usd is None else f"{r.estimated_cost_usd:.4f}" for r in results],
    )
    stdout_console().print(table)
    for r in results:
        if r.unchanged:
            stdout_console().print(f"iteration {r.iteration}: unchanged: identical to {r.version}")
