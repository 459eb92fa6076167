"""Small dataset versions built by hand for the evaluation and student tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from databuild.packs.colour.reference import ROW_SCHEMA, TOOLS, canonical_object, dumps, is_used
from databuild.store import Store, open_store
from pipelines.emit import publish_version


def truth_row(
    intent: str,
    adjust: dict[str, Any] | None = None,
    selective_adjust: dict[str, Any] | None = None,
    filter: dict[str, Any] | None = None,  # noqa: A002  (the tool's name)
    n_calls: int = 1,
    split: str = "test",
) -> dict[str, Any]:
    """One ground-truth row; tool objects may be sparse (missing parameters are 0), None = tool not used."""
    row: dict[str, Any] = {"intent": intent, "intent_text": intent, "n_calls": n_calls, "split": split}
    for tool, obj in (("adjust", adjust), ("selective_adjust", selective_adjust), ("filter", filter)):
        canonical = canonical_object(tool, obj or {})
        row[tool] = dumps(canonical)
        row[f"{tool}_used"] = is_used(tool, canonical)
    row |= {"source": "teacher", "augmented_from": None, "iteration": 0}
    return row


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {**ROW_SCHEMA, "split": pl.String}
    return pl.DataFrame(rows, schema=schema)


def publish(store_root: Path, rows: list[dict[str, Any]]) -> tuple[Store, str]:
    store = open_store(store_root)
    published = publish_version(store, rows_frame(rows), {"command": "test"}, {"test": True})
    return store, published.name


def write_predictions(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """JSONL; a str item is written as is (to test malformed lines)."""
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8"
    )
    return path


def perfect_predictions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ground truth itself as `Parameters: <canonical JSON>` completions."""
    return [{"intent": row["intent"]} | {tool: f"Parameters: {row[tool]}" for tool in TOOLS} for row in rows]
