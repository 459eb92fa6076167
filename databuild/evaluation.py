"""Offline metrics of a student against a version's ground truth, as the paper defines them.

Per tool: selection = F1 of "the tool is used"; quality over the rows where truth and prediction both use the tool,
by the tool's `x-quality` (exact: the listed keys all match, 1 or 0, like a preset name; cosine:
the cosine of the numeric parameter vectors, negative when they point opposite ways); final = harmonic mean of
selection and quality (a negative quality counts as 0 there, so final stays in [0, 1]); overall = mean of the tools'
finals. Subsets `all`, `r3` (n_calls >= 3), `r5` (>= 5). Every function takes the version's tool pack (default: the
colour pack).

Predictions are parsed by the snapshot's own SQL model (`databuild.outputs.parse_tool_outputs`), so a student's
output is judged exactly like a teacher's. Metrics are NumPy/Polars over whole columns, never a loop over rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.contracts import PREDICTION_MARKERS, predictions_schema
from databuild.errors import DatabuildError
from databuild.normalize import normalize_intent
from databuild.pack import Tool, ToolPack, colour_pack

SUBSETS: tuple[tuple[str, int], ...] = (("all", 0), ("r3", 3), ("r5", 5))


def read_predictions(path: Path, pack: ToolPack | None = None) -> pl.DataFrame:
    """A predictions JSONL file as (intent, <tool>, ...) with raw texts or null.

    A tool value that is a JSON object is serialized with `json.dumps` (parsed like a text later). Blank lines are
    skipped. Malformed lines and intents that repeat after normalization are user errors naming the line.
    """
    if not path.exists():
        raise DatabuildError(f"predictions file {path} not found")
    if not path.is_file():
        raise DatabuildError(f"predictions file {path} is not a regular file")
    pack = pack or colour_pack()
    schema = predictions_schema(pack)
    columns: dict[str, list[str | None]] = {name: [] for name in schema}
    first_line_of: dict[str, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatabuildError(f"{path}, line {number}: not valid UTF-8 (byte {exc.start + 1})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatabuildError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise DatabuildError(f"{path}, line {number}: JSON nested too deeply") from None
            if not isinstance(record, dict) or not isinstance(record.get("intent"), str):
                raise DatabuildError(f"{path}, line {number}: expected an object with a string 'intent'")
            normalized = normalize_intent(record["intent"])
            if normalized in first_line_of:
                first = first_line_of[normalized]
                raise DatabuildError(f"{path}, line {number}: duplicate intent {normalized!r} (first on line {first})")
            first_line_of[normalized] = number
            columns["intent"].append(record["intent"])
            for tool in pack.names:
                value = record.get(tool)
                if isinstance(value, dict):
                    value = json.dumps(value)
                elif value is not None and not isinstance(value, str):
                    raise DatabuildError(f"{path}, line {number}: {tool!r} must be a string, an object or null")
                columns[tool].append(value)
    return pl.DataFrame(columns, schema=schema)


SCORE_COLUMNS = (
    "intent",
    "n_calls",
    "tool",
    "truth_used",
    "predicted",
    "reason",
    "predicted_canonical",
    "predicted_used",
    "quality",
)


def score_rows(truth: pl.DataFrame, predictions: pl.DataFrame, pack: ToolPack | None = None) -> pl.DataFrame:
    """One row per (truth intent, tool): what the truth and the prediction say, and the row's quality score.

    Columns: `intent`, `n_calls`, `tool`, `truth_used`, `predicted` (bool: the intent has a prediction line),
    `reason` (why the prediction's output is invalid, or null), `predicted_canonical`, `predicted_used`, `quality`
    (cosine or name match where both use the tool, else null). Augment mines its mistakes from this frame.

    Steps: normalize the predicted intents (refusing repeats), join them to the truth by intent, parse every
    predicted text with the snapshot's model, then score each tool's rows.
    """
    from databuild.outputs import parse_tool_outputs

    pack = pack or colour_pack()
    joined = _truth_with_predictions(truth, _normalized_predictions(predictions), pack.names)
    texts = pl.concat(
        [joined.select("key", pl.lit(tool).alias("tool"), pl.col(f"{tool}_text").alias("text")) for tool in pack.names]
    )
    parsed = parse_tool_outputs(texts.filter(pl.col("text").is_not_null()), markers=PREDICTION_MARKERS, pack=pack)
    per_tool = [_scored_tool_rows(joined, parsed, pack.tool(tool)) for tool in pack.names]
    return pl.concat(per_tool).sort("key", "tool").select(*SCORE_COLUMNS)


def _normalized_predictions(predictions: pl.DataFrame) -> pl.DataFrame:
    """`predictions` with normalized intents; an intent that repeats after normalization is a user error."""
    normalized = [normalize_intent(text) for text in predictions.get_column("intent").to_list()]
    predictions = predictions.with_columns(pl.Series("intent", normalized, dtype=pl.String))
    duplicated = predictions.filter(pl.col("intent").is_duplicated()).get_column("intent").unique().sort()
    if duplicated.len():
        shown = ", ".join(repr(intent) for intent in duplicated.head(3).to_list())
        raise DatabuildError(f"duplicate intents in the predictions: {shown} ({duplicated.len()} in all)")
    return predictions


def _truth_with_predictions(truth: pl.DataFrame, predictions: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """Each truth row (numbered `key`) with its prediction's texts (`<tool>_text`) and `predicted`."""
    return (
        truth.select("intent", "n_calls", *names, *(f"{tool}_used" for tool in names))
        .with_row_index("key")
        .with_columns(pl.col("key").cast(pl.Int64))
        .join(
            predictions.select(
                "intent", pl.lit(True).alias("predicted"), *(pl.col(tool).alias(f"{tool}_text") for tool in names)
            ),
            on="intent",
            how="left",
        )
        .with_columns(pl.col("predicted").fill_null(False))
    )


def _scored_tool_rows(joined: pl.DataFrame, parsed: pl.DataFrame, tool: Tool) -> pl.DataFrame:
    """One tool's rows: truth and parsed prediction side by side, `predicted_used` and the row's quality."""
    rows = joined.select(
        "key",
        "intent",
        "n_calls",
        "predicted",
        pl.lit(tool.name).alias("tool"),
        pl.col(tool.name).alias("truth_canonical"),
        pl.col(f"{tool.name}_used").alias("truth_used"),
    ).join(
        parsed.filter(pl.col("tool") == tool.name).select(
            "key", "reason", pl.col("canonical").alias("predicted_canonical"), pl.col("used").alias("parsed_used")
        ),
        on="key",
        how="left",
    )
    rows = rows.with_columns(
        (pl.col("reason").is_null() & pl.col("parsed_used").fill_null(False)).alias("predicted_used")
    )
    return rows.with_columns(_quality(tool, rows)).drop("parsed_used")


def evaluate(
    truth: pl.DataFrame, predictions: pl.DataFrame, version: str, split: str, pack: ToolPack | None = None
) -> dict[str, Any]:
    """The `databuild eval --format json` object for `truth` (one split's rows) and `predictions`."""
    pack = pack or colour_pack()
    names = pack.names
    scored = score_rows(truth, predictions, pack)
    per_intent = scored.filter(pl.col("tool") == names[0])
    subsets: dict[str, Any] = {}
    for subset, min_calls in SUBSETS:
        in_subset = scored.filter(pl.col("n_calls") >= min_calls)
        tools = {
            tool: tool_metrics(
                in_subset.filter(pl.col("tool") == tool).get_column("truth_used").to_numpy(),
                in_subset.filter(pl.col("tool") == tool).get_column("predicted_used").to_numpy(),
                in_subset.filter(pl.col("tool") == tool).get_column("quality").drop_nulls().to_numpy(),
            )
            for tool in names
        }
        subsets[subset] = {
            "intents": int((per_intent.get_column("n_calls") >= min_calls).sum()),
            "tools": tools,
            "overall": float(np.mean([tools[tool]["final"] for tool in names])),
        }
    invalid = scored.filter(pl.col("reason").is_not_null()).group_by("tool").len()
    invalid_counts = dict(zip(invalid.get_column("tool").to_list(), invalid.get_column("len").to_list(), strict=True))
    return {
        "version": version,
        "split": split,
        "subsets": subsets,
        "invalid_outputs": {tool: int(invalid_counts.get(tool, 0)) for tool in names},
        "missing_predictions": int((~per_intent.get_column("predicted")).sum()),
    }


def tool_metrics(truth_used: np.ndarray, predicted_used: np.ndarray, quality_scores: np.ndarray) -> dict[str, Any]:
    """Selection (precision, recall, F1), quality (mean of the both-used rows' scores) and their harmonic mean."""
    truth_used = truth_used.astype(bool)
    predicted_used = predicted_used.astype(bool)
    true_positives = int(np.sum(truth_used & predicted_used))
    false_positives = int(np.sum(~truth_used & predicted_used))
    false_negatives = int(np.sum(truth_used & ~predicted_used))
    precision = _ratio(true_positives, true_positives + false_positives)
    recall = _ratio(true_positives, true_positives + false_negatives)
    selection = harmonic_mean(precision, recall)
    quality = float(np.mean(quality_scores)) if len(quality_scores) else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "selection": selection,
        "quality": quality,
        # a mean cosine below 0 (opposite parameter directions) counts as 0 quality in the harmonic mean
        "final": harmonic_mean(selection, max(quality, 0.0)),
        "quality_rows": len(quality_scores),
    }


def harmonic_mean(a: float, b: float) -> float:
    """2ab / (a + b); 0 when both are 0."""
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def row_cosines(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows; 0 where either vector is all zero (undefined, never a quality row)."""
    dot = np.einsum("ij,ij->i", left, right)
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)


def parameter_matrix(tool: Tool, canonical: pl.Series) -> np.ndarray:
    """Canonical JSON strings of a tool -> (n, numeric parameters) float64 matrix in schema order."""
    decoded = canonical.str.json_decode(canonical_struct(tool)).struct
    columns = [
        decoded.field(s.key) if s.sub is None else decoded.field(s.key).struct.field(s.sub) for s in tool.numeric_slots
    ]
    if not len(canonical):
        return np.zeros((0, len(columns)))
    return np.column_stack([column.cast(pl.Float64).fill_null(0.0).to_numpy() for column in columns])


def canonical_struct(tool: Tool) -> Any:
    """The Polars dtype of a tool's canonical object (for `str.json_decode`), from its schema."""
    fields: dict[str, Any] = {}
    for slot in tool.slots:
        dtype = pl.String if slot.kind == "enum" else pl.Float64
        if slot.sub is None:
            fields[slot.key] = dtype
        else:
            fields.setdefault(slot.key, {})[slot.sub] = dtype
    return pl.Struct({key: pl.Struct(value) if isinstance(value, dict) else value for key, value in fields.items()})


def _quality(tool: Tool, rows: pl.DataFrame) -> pl.Series:
    both_used = (rows.get_column("truth_used") & rows.get_column("predicted_used")).to_numpy()
    scores = np.full(rows.height, np.nan)
    truth = rows.get_column("truth_canonical").filter(pl.Series(both_used))
    predicted = rows.get_column("predicted_canonical").filter(pl.Series(both_used))
    if tool.is_cosine:
        scores[both_used] = row_cosines(parameter_matrix(tool, truth), parameter_matrix(tool, predicted))
    else:
        struct = canonical_struct(tool)
        left, right = truth.str.json_decode(struct).struct, predicted.str.json_decode(struct).struct
        same = pl.repeat(True, len(truth), dtype=pl.Boolean, eager=True)
        for key in tool.exact_keys:
            same = same & (left.field(key) == right.field(key)).fill_null(False)
        scores[both_used] = same.cast(pl.Float64).to_numpy()
    return pl.Series("quality", scores, dtype=pl.Float64, nan_to_null=True)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
