"""Mining: a seeded sample of teacher train rows, the student's answers, and the paper's mistakes.

A row's score per tool: 1 when neither the truth nor the prediction uses the tool, 0 when exactly one does, else
the tool's quality score (`x-quality`): the cosine of the parameter vectors, or 1/0 for an exact match of the listed
keys (e.g. a preset name).
- exact tools: a mistake when the listed keys differ (a tool unused or invalid on one side differs), i.e. when the
  score is below 1;
- cosine tools: a mistake when the score is below the tool's baseline — the student's eval `quality` on the first
  iteration's sample — by more than `TOLERANCE`, so identical vectors never count through rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from databuild.errors import DatabuildError
from databuild.pack import ToolPack, colour_pack

TOLERANCE = 1e-9


def sample_teacher_rows(train: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    """A seeded random sample of `size` train rows whose source is `teacher` (all of them when size ≥ their
    count), in intent order."""
    teacher = train.filter(pl.col("source") == "teacher").sort("intent")
    if size >= teacher.height:
        return teacher
    return teacher.sample(n=size, seed=seed, shuffle=False).sort("intent")


def check_coverage(sample: pl.DataFrame, predictions: pl.DataFrame) -> None:
    """Every sampled intent needs a prediction line (a predictions file made on another split is a user error)."""
    from databuild.normalize import normalize_intent

    have = pl.Series([normalize_intent(text) for text in predictions.get_column("intent").to_list()], dtype=pl.String)
    missing = sample.filter(~pl.col("intent").is_in(have.implode())).get_column("intent")
    if missing.len():
        raise DatabuildError(
            f"the predictions have no line for {missing.len()} of the {sample.height} sampled train intents "
            f"(first: {missing[0]!r}); predict on the train split: databuild predict --split train"
        )


@dataclass(frozen=True)
class Mistakes:
    scored: pl.DataFrame  # per (intent, tool): score_rows' columns + `row_score`
    per_intent: pl.DataFrame  # intent, one bool per tool (a mistake), any
    sample_metrics: dict[str, dict[str, Any]]  # per tool, eval's metrics on this sample
    tools: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        return {tool: int(self.per_intent.get_column(tool).sum()) for tool in self.tools} | {
            "intents": int(self.per_intent.get_column("any").sum())
        }

    def mistaken_intents(self) -> list[str]:
        return self.per_intent.filter(pl.col("any")).get_column("intent").to_list()


def score_sample(sample: pl.DataFrame, predictions: pl.DataFrame, pack: ToolPack | None = None) -> pl.DataFrame:
    """Eval's per-(intent, tool) scoring of the sample, plus the row score the mistakes are judged on."""
    from databuild.evaluation import score_rows

    scored = score_rows(sample, predictions, pack)
    both = pl.col("truth_used") & pl.col("predicted_used")
    neither = ~pl.col("truth_used") & ~pl.col("predicted_used")
    row_score = pl.when(both).then(pl.col("quality")).when(neither).then(pl.lit(1.0)).otherwise(pl.lit(0.0))
    return scored.with_columns(row_score.cast(pl.Float64).alias("row_score"))


def sample_metrics(scored: pl.DataFrame, pack: ToolPack | None = None) -> dict[str, dict[str, Any]]:
    """Eval's per-tool metrics (selection, quality, final …) of the student on the sample."""
    from databuild.evaluation import tool_metrics

    metrics = {}
    for tool in (pack or colour_pack()).names:
        part = scored.filter(pl.col("tool") == tool)
        metrics[tool] = tool_metrics(
            part.get_column("truth_used").to_numpy(),
            part.get_column("predicted_used").to_numpy(),
            part.get_column("quality").drop_nulls().to_numpy(),
        )
    return metrics


def find_mistakes(scored: pl.DataFrame, baseline: dict[str, float], pack: ToolPack | None = None) -> Mistakes:
    """Mistakes per intent and tool, given each cosine tool's frozen baseline cosine (exact tools: below 1)."""
    pack = pack or colour_pack()
    threshold = pl.col("tool").replace_strict(
        {tool.name: (baseline[tool.name] if tool.is_cosine else 1.0) - TOLERANCE for tool in pack.tools},
        return_dtype=pl.Float64,
    )
    flagged = scored.with_columns((pl.col("row_score") < threshold).alias("mistake"))
    per_intent = (
        flagged.select("intent", "tool", "mistake")
        .pivot(on="tool", index="intent", values="mistake", maintain_order=True)
        .select("intent", *pack.names)
        .with_columns(pl.any_horizontal(*pack.names).alias("any"))
    )
    return Mistakes(flagged, per_intent, sample_metrics(scored, pack), pack.names)
