"""The augmentation loop: one new dataset version per iteration, each iteration the steps of `_iteration`:

1. mine: `sample_teacher_rows` of the parent's train split;
2. predict: the student answers them (the command's student, re-built on the parent, or a predictions file for
   `--iterations 1`);
3. score: eval's per-(intent, tool) scores of the sample;
4. find mistakes against the frozen baseline (measured on the lineage's first augmentation iteration);
5. generate: a generator proposes `per_mistake` candidates per mistaken intent;
6. filter: `filter_candidates` keeps or rejects each with a reason;
7. assemble: the manifest's `augmentation` block;
8. publish: accepted intents become train rows with the source row's ground truth, the test split is copied
   unchanged, and `publish_version` writes the next version with its `rejected.parquet` (or names the identical
   existing one).
"""

from __future__ import annotations

import contextlib
import math
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from augment.candidates import Generation
from augment.filters import candidates_frame, filter_candidates
from augment.mine import check_coverage, find_mistakes, sample_teacher_rows, score_sample
from augment.prompt import TEMPLATE_PATH, template_sha256
from databuild.contracts import predictions_frame
from databuild.errors import DatabuildError
from databuild.pack import ToolPack
from databuild.store import REJECTED_FILE, Store
from databuild.students import Student

GENERATORS = ("auto", "openai", "neighbors")
LLM_ONLY_OPTIONS = ("model", "base_url", "concurrency", "max_retries", "timeout")


@dataclass(frozen=True)
class AugmentOptions:
    version: str | None = None
    iterations: int = 1
    student: str | None = None  # None: the embedded kNN student (`student_spec`)
    predictions: Path | None = None
    sample: int = 1000
    per_mistake: int = 1
    generator: str = "auto"
    model: str = "gpt-4"
    base_url: str | None = None
    concurrency: int = 16
    max_retries: int = 6
    timeout: float = 60.0
    seed: int = 0
    near_dup: float = 0.95
    min_similarity: float = 0.6

    @property
    def student_spec(self) -> str:
        return self.student or "knn"

    def validate(self) -> None:
        """Every check of the options, before any work (the command only parses them)."""
        from augment.openai_generator import check_base_url

        if self.student is not None and self.predictions is not None:
            raise DatabuildError("--student and --predictions exclude each other: give the student, or its predictions")
        check_base_url(self.base_url)
        if self.iterations < 1:
            raise DatabuildError(f"--iterations must be at least 1, not {self.iterations}")
        if self.predictions is not None and self.iterations != 1:
            raise DatabuildError("--predictions judges one fixed student: it allows only --iterations 1")
        if self.predictions is not None and not self.predictions.is_file():
            raise DatabuildError(f"predictions file {self.predictions} not found")
        for name, value, low in (
            ("--sample", self.sample, 1),
            ("--per-mistake", self.per_mistake, 1),
            ("--concurrency", self.concurrency, 1),
            ("--max-retries", self.max_retries, 0),
        ):
            if value < low:
                raise DatabuildError(f"{name} must be at least {low}, not {value}")
        if self.generator not in GENERATORS:
            raise DatabuildError(f"--generator must be one of {', '.join(GENERATORS)}, not {self.generator!r}")
        if not 0 < self.near_dup <= 1:
            raise DatabuildError(f"--near-dup must be in (0, 1], not {self.near_dup}")
        if not -1 <= self.min_similarity < 1:
            raise DatabuildError(f"--min-similarity must be in [-1, 1), not {self.min_similarity}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):  # typer reads "nan" and "inf" as floats
            raise DatabuildError(f"--timeout must be a positive finite number of seconds, not {self.timeout}")

    def recorded(self, generator: str | None = None) -> dict[str, Any]:
        """The parameters as the manifest records them (no credentials: a base URL keeps only scheme, host, port
        and path). With the offline generator, the settings only an LLM endpoint uses are left out."""
        out = asdict(self)
        out["student"] = self.student_spec
        out["predictions"] = str(self.predictions) if self.predictions else None
        out["base_url"] = redact_url(self.base_url)
        if generator == "neighbors":
            for key in LLM_ONLY_OPTIONS:
                out.pop(key)
        return out


def redact_url(url: str | None) -> str | None:
    """A base URL as it may be written or printed: scheme, host, port and path only. User and password, the query
    (`?api-key=…`) and the fragment can all carry secrets, so none of them is kept."""
    if not url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # not a URL at all (the options' validation says so); nothing of it is written
        return "(invalid URL)"
    host_and_port = parts.netloc.rpartition("@")[2]  # as written: no port parsing, so a bad port cannot fail here
    return urllib.parse.urlunsplit((parts.scheme, host_and_port, parts.path, "", ""))


class Generator(Protocol):
    name: str
    model: str | None

    def propose(
        self, sources: list[str], per_mistake: int, ordinal_offset: int = 0, on_done: Callable[[], None] | None = None
    ) -> Generation: ...


@dataclass
class IterationResult:
    iteration: int
    version: str
    parent: str
    unchanged: bool
    mined: int
    mistakes: dict[str, int]
    baseline_cosine: dict[str, float]
    candidates: int
    accepted: int
    rejected: dict[str, int]
    calls: dict[str, int]
    tokens: dict[str, int]
    estimated_cost_usd: float | None
    generator: str

    def as_json(self) -> dict[str, Any]:
        """The `--format json` shape, exactly."""
        return {
            "version": self.version,
            "parent": self.parent,
            "mined": self.mined,
            "mistakes": self.mistakes,
            "baseline_cosine": self.baseline_cosine,
            "candidates": self.candidates,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "calls": self.calls,
            "tokens": self.tokens,
        }


class Progress(Protocol):
    def start(self, description: str, total: int) -> Callable[[], None]: ...

    def stop(self) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    def start(self, description: str, total: int) -> Callable[[], None]:
        return lambda: None

    def stop(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def choose_generator(requested: str, base_url: str | None) -> str:
    """`auto` → `openai` when an endpoint is configured (OPENAI_API_KEY or a base URL), else `neighbors`."""
    from augment.openai_generator import endpoint_is_configured

    if requested != "auto":
        return requested
    return "openai" if endpoint_is_configured(base_url) else "neighbors"


def generator_note(requested: str, chosen: str) -> str | None:
    """What `auto` chose and why (None when the generator was named)."""
    if requested != "auto":
        return None
    why = "an endpoint is configured" if chosen == "openai" else "no OPENAI_API_KEY / OPENAI_BASE_URL set"
    return f"generator: {chosen} ({why})"


def inherited_baseline(store: Store, version: str) -> tuple[dict[str, float], str] | None:
    """The frozen baseline of the nearest augmented ancestor (and that version's name), if any.

    The search stops at the snapshot the version grew from: a new snapshot starts a new baseline.
    """
    for name in store.lineage(version):
        block = store.manifest(name).get("augmentation") or {}
        if not block:
            return None
        if "baseline_cosine" in block:
            return {tool: float(value) for tool, value in block["baseline_cosine"].items()}, name
    return None


def augmented_rows(accepted: pl.DataFrame, sources: pl.DataFrame, iteration: int, pack: ToolPack) -> pl.DataFrame:
    """Accepted candidates as train rows carrying their source row's ground truth for every tool."""
    names = pack.names
    truth = sources.select(pl.col("intent").alias("source_intent"), *names, *(f"{tool}_used" for tool in names)).unique(
        "source_intent"
    )
    return accepted.join(truth, on="source_intent", how="left", maintain_order="left").select(
        "intent",
        pl.col("intent_text").str.strip_chars(),
        *names,
        *(f"{tool}_used" for tool in names),
        pl.col("n_calls").cast(pl.Int64),
        pl.lit("augmented").alias("source"),
        pl.col("source_intent").alias("augmented_from"),
        pl.lit(iteration, dtype=pl.Int64).alias("iteration"),
        pl.lit("train").alias("split"),
    )


# A rejected candidate as a reviewer reads it: what was proposed, for which intent, why not, and for `in_test` the
# test intent it came too close to with their cosine (1.0 for an exact match after normalization).
REJECTED_COLUMNS = ("intent_text", "intent", "source_intent", "reason", "near_test_intent", "near_test_cosine")


@dataclass
class _Round:
    """What one iteration knows, step by step (`AugmentLoop._iteration` fills it in)."""

    parent: str
    rows: pl.DataFrame
    iteration: int
    pack: ToolPack
    train: pl.DataFrame
    sample: pl.DataFrame
    scored: pl.DataFrame = field(default_factory=pl.DataFrame)
    baseline: dict[str, float] = field(default_factory=dict)
    baseline_from: str = ""
    mistakes: Any = None
    generator: Any = None
    generation: Any = None
    judged: pl.DataFrame = field(default_factory=pl.DataFrame)
    rejected_counts: dict[str, int] = field(default_factory=dict)
    accepted: pl.DataFrame = field(default_factory=pl.DataFrame)

    def result(self, version: str, unchanged: bool, block: dict[str, Any]) -> IterationResult:
        return IterationResult(
            iteration=self.iteration,
            version=version,
            parent=self.parent,
            unchanged=unchanged,
            mined=self.sample.height,
            mistakes=block["mistakes"],
            baseline_cosine=self.baseline,
            candidates=self.judged.height,
            accepted=self.accepted.height,
            rejected=self.rejected_counts,
            calls=block["calls"],
            tokens=block["tokens"],
            estimated_cost_usd=block["estimated_cost_usd"],
            generator=block["generator"],
        )


class AugmentLoop:
    def __init__(
        self,
        store: Store,
        options: AugmentOptions,
        command: str,
        progress: Progress | None = None,
        show_progress: bool = True,
        student_factory: Callable[[str], Student] | None = None,
    ) -> None:
        """`student_factory(version)` builds the student that answers the mined sample of `version` (the command
        builds it; default: the embedded kNN student, the only one this layer may build itself)."""
        options.validate()
        self.store = store
        self.options = options
        self.command = command
        self.progress = progress or SilentProgress()
        self.show_progress = show_progress
        self.generator_name = choose_generator(options.generator, options.base_url)
        self.student_factory = student_factory or self._knn_student

    def _knn_student(self, version: str) -> Student:
        from databuild.students import KNN_SPEC, KnnStudent

        if self.options.student_spec != KNN_SPEC:
            raise DatabuildError(f"student {self.options.student_spec!r} must be built by the command")
        return KnnStudent(self.store, version, self.show_progress)

    # -- generators ------------------------------------------------------------------------------------------
    def _generator(self, version: str, rows: pl.DataFrame) -> Generator:
        if self.generator_name == "openai":
            from augment.cache import ResponseCache
            from augment.openai_generator import OpenAIGenerator, endpoint_from_environment

            endpoint = endpoint_from_environment(
                self.options.model,
                self.options.base_url,
                timeout=self.options.timeout,
                concurrency=self.options.concurrency,
                max_retries=self.options.max_retries,
            )
            return OpenAIGenerator(
                endpoint, ResponseCache.for_store(self.store), seed=self.options.seed, pack=self.store.pack(version)
            )
        from augment.neighbors import NeighborsGenerator

        root = self.store.source_snapshot(version)  # its logs' excluded intents are the pool
        return NeighborsGenerator(
            self.store, root, rows.get_column("intent"), self.options.min_similarity, self.show_progress
        )

    # -- the loop --------------------------------------------------------------------------------------------
    def run(self) -> list[IterationResult]:
        from databuild.contracts import load_rows

        if self.options.generator == "openai":  # fail at once, before any mining work
            from augment.openai_generator import endpoint_from_environment

            endpoint_from_environment(self.options.model, self.options.base_url)
        version = self.store.resolve(self.options.version)
        first_rows = load_rows(self.store, version)
        start_iteration = int(first_rows.get_column("iteration").fill_null(0).max() or 0)  # type: ignore[arg-type]
        inherited = inherited_baseline(self.store, version)
        baseline = inherited[0] if inherited else None
        baseline_from = f"inherited from {inherited[1]}" if inherited else None
        results: list[IterationResult] = []
        rows: pl.DataFrame | None = first_rows
        for index in range(self.options.iterations):
            iteration = start_iteration + index + 1
            if rows is None:
                rows = load_rows(self.store, version)
            result, baseline, baseline_from = self._iteration(version, rows, iteration, baseline, baseline_from)
            results.append(result)
            version, rows = result.version, None
        return results

    def _predict(self, version: str, sample: pl.DataFrame) -> pl.DataFrame:
        pack = self.store.pack(version)
        if self.options.predictions is not None:
            from databuild.evaluation import read_predictions

            predictions = read_predictions(self.options.predictions, pack)
            check_coverage(sample, predictions)
            return predictions
        student = self.student_factory(version)
        intents = sample.get_column("intent").to_list()
        return predictions_frame(intents, student.predict(intents), pack)

    def _iteration(
        self,
        parent: str,
        rows: pl.DataFrame,
        iteration: int,
        baseline: dict[str, float] | None,
        baseline_from: str | None,
    ) -> tuple[IterationResult, dict[str, float], str]:
        """mine → predict → score → find mistakes → generate → filter → assemble → publish."""
        round_ = self._mine(parent, rows, iteration)
        round_.scored = score_sample(round_.sample, self._predict(parent, round_.sample), round_.pack)
        round_.baseline, round_.baseline_from = self._frozen_baseline(round_, baseline, baseline_from)
        round_.mistakes = find_mistakes(round_.scored, round_.baseline, round_.pack)
        round_.generator = self._generator(parent, rows)
        round_.generation = self._generate(round_.generator, round_.mistakes.mistaken_intents(), iteration)
        self._check_generation(round_)
        self._filter(round_)
        block = self._assemble(round_)
        if round_.accepted.height == 0:
            published_name, unchanged = parent, True  # nothing to add: the result is the parent itself
        else:
            published_name, unchanged = self._publish(round_, block)
        return round_.result(published_name, unchanged, block), round_.baseline, round_.baseline_from

    def _mine(self, parent: str, rows: pl.DataFrame, iteration: int) -> _Round:
        self.progress.note(f"iteration {iteration}: mining {parent}")
        train = rows.filter(pl.col("split") == "train")
        sample = sample_teacher_rows(train, self.options.sample, self.options.seed)
        if sample.height == 0:
            raise DatabuildError(f"{parent} has no teacher train rows to mine")
        return _Round(parent, rows, iteration, self.store.pack(parent), train, sample)

    def _frozen_baseline(
        self, round_: _Round, baseline: dict[str, float] | None, baseline_from: str | None
    ) -> tuple[dict[str, float], str]:
        """The lineage's baseline, or (first iteration) the student's eval quality per cosine tool on this sample."""
        if baseline is not None and baseline_from is not None:
            return baseline, baseline_from
        from augment.mine import sample_metrics

        measured = sample_metrics(round_.scored, round_.pack)
        measured_baseline = {t.name: float(measured[t.name]["quality"]) for t in round_.pack.tools if t.is_cosine}
        return measured_baseline, f"measured on {round_.parent} (iteration {round_.iteration})"

    def _check_generation(self, round_: _Round) -> None:
        accounting = round_.generation.accounting
        if round_.generator.name == "openai" and round_.generation.requested and accounting.succeeded == 0:
            raise DatabuildError(
                f"all {accounting.failed} requests to the endpoint failed (first: {accounting.first_failure}); "
                "nothing was written — check the endpoint, the model name and OPENAI_API_KEY"
            )

    def _filter(self, round_: _Round) -> None:
        test_intents = round_.rows.filter(pl.col("split") == "test").get_column("intent")
        embed, test_embeddings = self._embedder(test_intents)
        round_.judged, round_.rejected_counts = filter_candidates(
            candidates_frame(round_.generation.candidates),
            round_.train.get_column("intent"),
            test_intents,
            embed,
            test_embeddings,
            self.options.near_dup,
        )
        round_.accepted = round_.judged.filter(pl.col("reason").is_null())

    def _assemble(self, round_: _Round) -> dict[str, Any]:
        """The manifest's `augmentation` block of this iteration."""
        from augment.openai_generator import estimated_cost_usd

        options, generator, accounting = self.options, round_.generator, round_.generation.accounting
        model = generator.model
        # the offline generator pays nothing
        cost = estimated_cost_usd(model, accounting.prompt_tokens, accounting.completion_tokens) if model else 0.0
        return {
            "iteration": round_.iteration,
            "generator": generator.name,
            "model": model,
            "base_url": redact_url(self._base_url()) if generator.name == "openai" else None,
            "prompt_template": f"augment/prompts/{TEMPLATE_PATH.name}",
            "prompt_template_sha256": template_sha256() if generator.name == "openai" else None,
            "student": None if options.predictions else options.student_spec,
            "predictions": str(options.predictions) if options.predictions else None,
            "sample": {"requested": options.sample, "size": round_.sample.height, "seed": options.seed},
            "baseline_cosine": round_.baseline,
            "baseline_from": round_.baseline_from,
            "sample_metrics": round_.mistakes.sample_metrics,
            "tolerance": 1e-9,
            "mistakes": round_.mistakes.counts(),
            "per_mistake": options.per_mistake,
            "candidates": round_.judged.height,
            "accepted": round_.accepted.height,
            "rejected": round_.rejected_counts,
            "near_dup": options.near_dup,
            "min_similarity": options.min_similarity if generator.name == "neighbors" else None,
            "calls": {"made": accounting.made, "cached": accounting.cached, "failed": accounting.failed},
            "http_attempts": accounting.attempts,
            "failures_by_type": dict(sorted(accounting.failures.items())),
            "tokens": {"prompt": accounting.prompt_tokens, "completion": accounting.completion_tokens},
            "estimated_cost_usd": cost,
            "generator_details": round_.generation.details,
        }

    def _generate(self, generator: Generator, sources: list[str], iteration: int) -> Generation:
        """The generator's proposals, with a progress bar; LLM requests are sent holding the store's sender lock, so
        two concurrent runs never send the same request twice (the offline generator needs no lock)."""
        per_mistake = self.options.per_mistake
        unit = "requests" if generator.name == "openai" else "intents"
        total = len(sources) * (per_mistake if generator.name == "openai" else 1)
        exclusive = getattr(generator, "exclusive", None)
        with exclusive(self.progress.note) if exclusive else contextlib.nullcontext():
            advance = self.progress.start(f"iteration {iteration}: generating ({generator.name}, {unit})", total)
            try:
                return generator.propose(
                    sources, per_mistake, ordinal_offset=(iteration - 1) * per_mistake, on_done=advance
                )
            finally:
                self.progress.stop()

    def _base_url(self) -> str | None:
        from augment.openai_generator import configured_base_url

        return configured_base_url(self.options.base_url)

    def _embedder(self, test_intents: pl.Series) -> tuple[Any, Any]:
        from databuild.embeddings import embed_intents

        def embed(intents: list[str]) -> Any:
            return embed_intents(self.store, intents, self.show_progress)[0]

        return embed, embed(test_intents.to_list())

    def _publish(self, round_: _Round, block: dict[str, Any]) -> tuple[str, bool]:
        """The parent's rows and the accepted candidates' as the next version, its rejected candidates beside them."""
        from pipelines.emit import publish_version

        parent, pack = round_.parent, round_.pack
        columns = pack.row_columns()
        new_rows = augmented_rows(round_.accepted, round_.train, round_.iteration, pack)
        combined = pl.concat([round_.rows.select(*columns, "split"), new_rows.select(*columns, "split")])
        manifest = {
            "command": self.command,
            "parameters": self.options.recorded(block["generator"]),
            "augmentation": block,
        }
        shaping = {
            "augment": {
                "parent_fingerprint": self.store.manifest(parent).get("fingerprint"),
                "generator": block["generator"],
                "model": block["model"],
                "prompt_template_sha256": block["prompt_template_sha256"],
                "student": block["student"],
                "sample": self.options.sample,
                "per_mistake": self.options.per_mistake,
                "seed": self.options.seed,
                "near_dup": self.options.near_dup,
                "min_similarity": block["min_similarity"],
                "iteration": block["iteration"],
            }
        }
        rejected = round_.judged.filter(pl.col("reason").is_not_null()).select(REJECTED_COLUMNS)
        published = publish_version(
            self.store,
            combined,
            manifest,
            shaping,
            parent=parent,
            parent_is_newest=False,
            pack=pack,
            tables={REJECTED_FILE: rejected},
        )
        return published.name, published.unchanged
