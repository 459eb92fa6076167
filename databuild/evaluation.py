"""Offline metrics of a student against a version's ground truth, as the paper defines them.

Per tool: selection = F1 of "the tool is used"; quality over the rows where truth and prediction both use the tool
(filter: same preset name; adjust / selective_adjust: mean cosine of the parameter vectors, which is negative when
the vectors point opposite ways); final = harmonic mean of selection and quality (a negative quality counts as 0
there, so final stays in [0, 1]); overall = mean of the three finals. Subsets `all`, `r3` (n_calls >= 3), `r5` (>= 5).

Predictions are parsed by the snapshot's own SQL model (`pipelines.outputs.parse_tool_outputs`), so a student's
output is judged exactly like a teacher's. Metrics are NumPy/Polars over whole columns, never a loop over rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.errors import DatabuildError
from databuild.normalize import normalize_intent
from databuild.tools import TOOLS, VECTOR_TOOLS, canonical_struct, params

PREDICTION_MARKERS: tuple[str, ...] = ("Parameters:", "JSON:")
SUBSETS: tuple[tuple[str, int], ...] = (("all", 0), ("r3", 3), ("r5", 5))
PREDICTION_SCHEMA: dict[str, Any] = {"intent": pl.String} | {tool: pl.String for tool in TOOLS}
METRIC_KEYS = ("precision", "recall", "selection", "quality", "final", "quality_rows")


def read_predictions(path: Path) -> pl.DataFrame:
    """A predictions JSONL file as (intent, adjust, selective_adjust, filter) with raw texts or null.

    A tool value that is a JSON object is serialized with `json.dumps` (parsed like a text later). Blank lines are
    skipped. Malformed lines and intents that repeat after normalization are user errors naming the line.
    """
    if not path.exists():
        raise DatabuildError(f"predictions file {path} not found")
    if not path.is_file():
        raise DatabuildError(f"predictions file {path} is not a regular file")
    columns: dict[str, list[str | None]] = {name: [] for name in PREDICTION_SCHEMA}
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
            for tool in TOOLS:
                value = record.get(tool)
                if isinstance(value, dict):
                    value = json.dumps(value)
                elif value is not None and not isinstance(value, str):
                    raise DatabuildError(f"{path}, line {number}: {tool!r} must be a string, an object or null")
                columns[tool].append(value)
    return pl.DataFrame(columns, schema=PREDICTION_SCHEMA)


def score_rows(truth: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """One row per (truth intent, tool): what the truth and the prediction say, and the row's quality score.

    Columns: `intent`, `n_calls`, `tool`, `truth_used`, `predicted` (bool: the intent has a prediction line),
    `reason` (why the prediction's output is invalid, or null), `predicted_canonical`, `predicted_used`, `quality`
    (cosine or name match where both use the tool, else null). Augment mines its mistakes from this frame.
    """
    from pipelines.outputs import parse_tool_outputs

    normalized = [normalize_intent(text) for text in predictions.get_column("intent").to_list()]
    predictions = predictions.with_columns(pl.Series("intent", normalized, dtype=pl.String))
    duplicated = predictions.filter(pl.col("intent").is_duplicated()).get_column("intent").unique().sort()
    if duplicated.len():
        shown = ", ".join(repr(intent) for intent in duplicated.head(3).to_list())
        raise DatabuildError(f"duplicate intents in the predictions: {shown} ({duplicated.len()} in all)")
    joined = (
        truth.select("intent", "n_calls", *TOOLS, *(f"{tool}_used" for tool in TOOLS))
        .with_row_index("key")
        .with_columns(pl.col("key").cast(pl.Int64))
        .join(
            predictions.select(
                "intent", pl.lit(True).alias("predicted"), *(pl.col(tool).alias(f"{tool}_text") for tool in TOOLS)
            ),
            on="intent",
            how="left",
        )
        .with_columns(pl.col("predicted").fill_null(False))
    )
    texts = pl.concat(
        [joined.select("key", pl.lit(tool).alias("tool"), pl.col(f"{tool}_text").alias("text")) for tool in TOOLS]
    )
    parsed = parse_tool_outputs(texts.filter(pl.col("text").is_not_null()), markers=PREDICTION_MARKERS)
    per_tool = []
    for tool in TOOLS:
        rows = joined.select(
            "key",
            "intent",
            "n_calls",
            "predicted",
            pl.lit(tool).alias("tool"),
            pl.col(tool).alias("truth_canonical"),
            pl.col(f"{tool}_used").alias("truth_used"),
        ).join(
            parsed.filter(pl.col("tool") == tool).select(
                "key", "reason", pl.col("canonical").alias("predicted_canonical"), pl.col("used").alias("parsed_used")
            ),
            on="key",
            how="left",
        )
        rows = rows.with_columns(
            (pl.col("reason").is_null() & pl.col("parsed_used").fill_null(False)).alias("predicted_used")
        )
        per_tool.append(rows.with_columns(_quality(tool, rows)).drop("parsed_used"))
    return (
        pl.concat(per_tool)
        .sort("key", "tool")
        .select(
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
    )


def evaluate(truth: pl.DataFrame, predictions: pl.DataFrame, version: str, split: str) -> dict[str, Any]:
    """The `databuild eval --format json` object for `truth` (one split's rows) and `predictions`."""
    scored = score_rows(truth, predictions)
    per_intent = scored.filter(pl.col("tool") == TOOLS[0])
    subsets: dict[str, Any] = {}
    for subset, min_calls in SUBSETS:
        in_subset = scored.filter(pl.col("n_calls") >= min_calls)
        tools = {
            tool: tool_metrics(
                in_subset.filter(pl.col("tool") == tool).get_column("truth_used").to_numpy(),
                in_subset.filter(pl.col("tool") == tool).get_column("predicted_used").to_numpy(),
                in_subset.filter(pl.col("tool") == tool).get_column("quality").drop_nulls().to_numpy(),
            )
            for tool in TOOLS
        }
        subsets[subset] = {
            "intents": int((per_intent.get_column("n_calls") >= min_calls).sum()),
            "tools": tools,
            "overall": float(np.mean([tools[tool]["final"] for tool in TOOLS])),
        }
    invalid = scored.filter(pl.col("reason").is_not_null()).group_by("tool").len()
    invalid_counts = dict(zip(invalid.get_column("tool").to_list(), invalid.get_column("len").to_list(), strict=True))
    return {
        "version": version,
        "split": split,
        "subsets": subsets,
        "invalid_outputs": {tool: int(invalid_counts.get(tool, 0)) for tool in TOOLS},
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


def parameter_matrix(tool: str, canonical: pl.Series) -> np.ndarray:
    """Canonical JSON strings of a vector tool -> (n, parameters) float64 matrix in canonical order."""
    decoded = canonical.str.json_decode(canonical_struct(tool)).struct
    columns = [
        decoded.field(p.key) if p.sub is None else decoded.field(p.key).struct.field(p.sub) for p in params(tool)
    ]
    if not len(canonical):
        return np.zeros((0, len(columns)))
    return np.column_stack([column.cast(pl.Float64).fill_null(0.0).to_numpy() for column in columns])


def _quality(tool: str, rows: pl.DataFrame) -> pl.Series:
    both_used = (rows.get_column("truth_used") & rows.get_column("predicted_used")).to_numpy()
    scores = np.full(rows.height, np.nan)
    truth = rows.get_column("truth_canonical").filter(pl.Series(both_used))
    predicted = rows.get_column("predicted_canonical").filter(pl.Series(both_used))
    if tool in VECTOR_TOOLS:
        scores[both_used] = row_cosines(parameter_matrix(tool, truth), parameter_matrix(tool, predicted))
    else:
        name = pl.Struct({"name": pl.String, "intensity": pl.Int64})
        same = truth.str.json_decode(name).struct.field("name") == predicted.str.json_decode(name).struct.field("name")
        scores[both_used] = same.cast(pl.Float64).to_numpy()
    return pl.Series("quality", scores, dtype=pl.Float64, nan_to_null=True)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


# --- rendering -------------------------------------------------------------------------------------------------------

_SHORT = {"adjust": "adjust", "selective_adjust": "selective", "filter": "filter"}


def report_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper's table: per subset, each tool's (selection, quality, final), and overall."""
    header = ["subset", "intents"]
    for tool in TOOLS:
        header += [f"{_SHORT[tool]} sel", f"{_SHORT[tool]} qual", f"{_SHORT[tool]} final"]
    header.append("overall")
    rows = []
    for subset, _ in SUBSETS:
        metrics = result["subsets"][subset]
        row = [subset, str(metrics["intents"])]
        for tool in TOOLS:
            row += [f"{metrics['tools'][tool][key]:.2f}" for key in ("selection", "quality", "final")]
        row.append(f"{metrics['overall']:.2f}")
        rows.append(row)
    return header, rows


def report_footer(result: dict[str, Any]) -> str:
    invalid = ", ".join(f"{tool} {result['invalid_outputs'][tool]}" for tool in TOOLS)
    return f"invalid outputs: {invalid}; missing predictions: {result['missing_predictions']}"


def render_markdown(result: dict[str, Any]) -> str:
    header, rows = report_rows(result)
    lines = [
        f"**{result['version']} / {result['split']}**",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        report_footer(result),
    ]
    return "\n".join(lines) + "\n"


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table of the same figures, each tool as `sel qual final` in one cell (fits 80 columns)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"{result['version']} / {result['split']}",
        caption=report_footer(result),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("subset", no_wrap=True)
    table.add_column("intents", justify="right", no_wrap=True)
    for tool in TOOLS:
        table.add_column(f"{_SHORT[tool]}\nsel qual final", justify="right", no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    for subset, _ in SUBSETS:
        metrics = result["subsets"][subset]
        cells = [
            " ".join(f"{metrics['tools'][tool][key]:.2f}" for key in ("selection", "quality", "final"))
            for tool in TOOLS
        ]
        table.add_row(subset, str(metrics["intents"]), *cells, f"{metrics['overall']:.2f}")
    return table
