"""Handmade dataset versions for the show/diff tests, built with the real `publish_version`.

v1 -> v2 holds every kind of change a reviewer must see (the expected diff is written out in test_diff.py):

| intent | v1 | v2 | change |
|---|---|---|---|
| golden hour (train) | paper's golden hour, faded_HighNoon 40 | contrast 10->20, temperature 30->45; 55 | parameters |
| cool morning (train) | selective all 0 | cyan saturation 20 | used flip (selective off -> on) |
| vintage film (train) | contrast -10, saturation -20; faded_Retro 60 | adjust 0; faded_Mist 50 | flip, rename |
| dark night (train) | present | absent | removed |
| x-ray (train -> test) | train | test | split move |
| retro cinema (train) | absent | augmented from vintage film, iteration 1 | added |
| sunset glow (test) | temperature 40 | temperature 50 | test change |
| foggy forest (test) | absent | teacher | added to test |
"""

from __future__ import annotations

from typing import Any

import polars as pl

from databuild.packs.colour.reference import canonical_object, dumps, is_used
from databuild.store import Store
from pipelines.emit import Published, publish_version

GOLDEN_ADJUST = {
    "contrast": 10,
    "brightness": 10,
    "highlights": 20,
    "shadows": -10,
    "saturation": 15,
    "vibrance": 15,
    "temperature": 30,
    "tint": 10,
}
GOLDEN_SELECTIVE = {
    "red": {"saturation": 20, "luminance": 10},
    "orange": {"saturation": 30, "luminance": 20},
    "yellow": {"saturation": 40, "luminance": 30},
    "green": {"saturation": -20, "luminance": 0},
    "cyan": {"saturation": -20, "luminance": 0},
}
NO_FILTER = {"name": "none", "intensity": 0}


def row(
    intent: str,
    split: str,
    adjust: dict[str, Any] | None = None,
    selective: dict[str, Any] | None = None,
    lut: dict[str, Any] | None = None,
    source: str = "teacher",
    augmented_from: str | None = None,
    iteration: int = 0,
    n_calls: int = 3,
) -> dict[str, Any]:
    """One rows-dataset row from partial tool objects (canonicalized like snapshot does)."""
    objects = {
        "adjust": canonical_object("adjust", adjust or {}),
        "selective_adjust": canonical_object("selective_adjust", selective or {}),
        "filter": canonical_object("filter", lut or NO_FILTER),
    }
    return {
        "intent": intent,
        "intent_text": intent.title(),
        **{tool: dumps(obj) for tool, obj in objects.items()},
        **{f"{tool}_used": is_used(tool, obj) for tool, obj in objects.items()},
        "n_calls": n_calls,
        "source": source,
        "augmented_from": augmented_from,
        "iteration": iteration,
        "split": split,
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"augmented_from": pl.String})


VERSION_A_ROWS = [
    row("golden hour", "train", GOLDEN_ADJUST, GOLDEN_SELECTIVE, {"name": "faded_HighNoon", "intensity": 40}),
    row("cool morning", "train", {"exposure": 10, "temperature": -30}),
    row("vintage film", "train", {"contrast": -10, "saturation": -20}, None, {"name": "faded_Retro", "intensity": 60}),
    row("dark night", "train", {"exposure": -40, "shadows": -20}, {"blue": {"saturation": 20}}),
    row("x-ray", "train", None, None, {"name": "negative", "intensity": 80}),
    row("sunset glow", "test", {"temperature": 40, "saturation": 20}, {"orange": {"saturation": 30, "luminance": 10}}),
]
VERSION_B_ROWS = [
    row(
        "golden hour",
        "train",
        GOLDEN_ADJUST | {"contrast": 20, "temperature": 45},
        GOLDEN_SELECTIVE,
        {"name": "faded_HighNoon", "intensity": 55},
    ),
    row("cool morning", "train", {"exposure": 10, "temperature": -30}, {"cyan": {"saturation": 20}}),
    row("vintage film", "train", None, None, {"name": "faded_Mist", "intensity": 50}),
    row(
        "retro cinema",
        "train",
        {"contrast": -10, "saturation": -20},
        None,
        {"name": "faded_Retro", "intensity": 60},
        source="augmented",
        augmented_from="vintage film",
        iteration=1,
    ),
    row("x-ray", "test", None, None, {"name": "negative", "intensity": 80}),
    row("sunset glow", "test", {"temperature": 50, "saturation": 20}, {"orange": {"saturation": 30, "luminance": 10}}),
    row(
        "foggy forest",
        "test",
        {"contrast": -15, "highlights": 10},
        {"green": {"luminance": -10}},
        {"name": "faded_Mist", "intensity": 30},
    ),
]

MANIFEST_A = {
    "command": "databuild snapshot --logs logs.jsonl",
    "parameters": {"rank": "raw", "seed": 0, "test_fraction": 0.1},
    "inputs": [{"path": "logs.jsonl", "sha256": "ab" * 32, "rows": 40}],
    "accounting": {"input_rows": 40, "valid_rows": 31, "quarantined": {"no_json": 6, "schema_violation": 3}},
    "intents": {"seen": 9, "kept": 6, "excluded": {"no_exports": 2, "incomplete_tools": 1}},
}
MANIFEST_B = {
    "command": "databuild augment --iterations 1 --generator neighbors",
    "parameters": {"generator": "neighbors", "iterations": 1, "seed": 0},
    "augmentation": {
        "generator": "neighbors",
        "model": None,
        "sample": 5,
        "mistakes": {"adjust": 1, "selective_adjust": 0, "filter": 1, "intents": 1},
        "baseline_cosine": {"adjust": 0.5, "selective_adjust": 0.75},
        "accepted": 1,
        "rejected": {"in_train": 2},
    },
}


def publish(store: Store, rows: list[dict[str, Any]], manifest: dict[str, Any], **kwargs: Any) -> Published:
    return publish_version(store, frame(rows), manifest, {"fixture": manifest["command"]}, **kwargs)


def publish_fixture_versions(store: Store) -> tuple[str, str]:
    """v1 (snapshot-like) and v2 (augment-like, parent v1)."""
    first = publish(store, VERSION_A_ROWS, MANIFEST_A)
    second = publish(store, VERSION_B_ROWS, MANIFEST_B)
    return first.name, second.name
