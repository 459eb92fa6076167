"""`databuild augment`: mine the student's mistakes, generate similar intents, write the next version(s)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    STORE_OPTION,
    check_choice,
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


@app.command()
def augment(
    store: Path | None = STORE_OPTION,
    version: str | None = typer.Option(None, "--version", help="Version to start from (default: the newest)."),
    iterations: int = typer.Option(1, "--iterations", help="Mine → generate → filter → add rounds."),
    student: str = typer.Option(None, "--student", help="'knn' (default; embedded, leave-one-out) or a trained run."),
    predictions: Path | None = typer.Option(
        None, "--predictions", help="A student's predictions on the train split (eval format); --iterations 1 only."
    ),
    sample: int = typer.Option(1000, "--sample", help="Teacher train rows mined per iteration (seeded)."),
    per_mistake: int = typer.Option(1, "--per-mistake", help="Candidates generated per mistaken intent."),
    generator: str = typer.Option("auto", "--generator", help="auto, openai or neighbors (offline)."),
    model: str = typer.Option("gpt-4", "--model", help="Model name sent to the OpenAI-compatible endpoint."),
    base_url: str | None = typer.Option(None, "--base-url", help="Endpoint (default: $OPENAI_BASE_URL or OpenAI)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Requests in flight at most."),
    max_retries: int = typer.Option(6, "--max-retries", help="Retries of a rate-limited / timed-out / 5xx request."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds before one request attempt times out."),
    near_dup: float = typer.Option(0.95, "--near-dup", help="Reject candidates this close (cosine) to a test intent."),
    min_similarity: float = typer.Option(0.6, "--min-similarity", help="neighbors: least cosine to the source."),
    seed: int = typer.Option(0, "--seed", help="Seed of the mined sample and of the generation requests."),
    output_format: str = typer.Option("table", "--format", help="table or json."),
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
        options = AugmentOptions(
            version=version,
            iterations=iterations,
            student=student,
            predictions=predictions,
            sample=sample,
            per_mistake=per_mistake,
            generator=generator,
            model=model,
            base_url=base_url,
            concurrency=concurrency,
            max_retries=max_retries,
            timeout=timeout,
            seed=seed,
            near_dup=near_dup,
            min_similarity=min_similarity,
        )
        command = recorded_command({base_url: redact_url(base_url) or ""} if base_url else None)
        opened = open_store(store_path(store))

        def student_for(version_name: str) -> Any:
            return load_student(options.student_spec, opened, version_name)

        loop = AugmentLoop(opened, options, command, _RichProgress(), student_factory=student_for)  # validates
        note = generator_note(generator, loop.generator_name)
        if note:
            typer.echo(note, err=True)
        results = loop.run()
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
