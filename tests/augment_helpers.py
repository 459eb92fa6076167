"""A small hand-built dataset version for the augment tests, with a predictions file whose mistakes are known.

Train (teacher) intents and what the student's predictions get wrong (worked out in `expected_mistakes`):
- golden hour      perfect
- cool morning     filter: predicts `winter`, truth `north`                        → filter mistake
- dark atmosphere  adjust: exposure +30 where the truth says -30 (cos = -5/13)     → adjust mistake
- vintage film     perfect
- vivid colors     selective: uses it (red saturation 10), truth does not (row 0)  → selective mistake
- neon city        filter: predicts none, truth cyberpunk                          → filter mistake
- pastel dream     filter: an unknown preset (invalid = none), truth spring        → filter mistake
Test intents: sunset glow, winter morning, neon nights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from databuild.packs.colour.reference import ROW_SCHEMA, TOOLS, canonical_object, dumps, is_used
from databuild.store import Store, open_store
from pipelines.emit import publish_version

GOLDEN_ADJUST = {"contrast": 10, "brightness": 10, "highlights": 20, "shadows": -10, "saturation": 15}
GOLDEN_SELECTIVE = {"red": {"saturation": 20, "luminance": 10}, "orange": {"saturation": 30, "luminance": 20}}

TRUTH: dict[str, dict[str, Any]] = {
    "golden hour": {
        "adjust": GOLDEN_ADJUST,
        "selective_adjust": GOLDEN_SELECTIVE,
        "filter": {"name": "faded_HighNoon", "intensity": 40},
    },
    "cool morning": {"adjust": {"temperature": -30, "tint": -5}, "filter": {"name": "north", "intensity": 50}},
    "dark atmosphere": {"adjust": {"exposure": -30, "contrast": 20}, "filter": {"name": "darkness", "intensity": 60}},
    "vintage film": {
        "adjust": {"saturation": -20, "contrast": -10},
        "filter": {"name": "faded_Retro", "intensity": 80},
    },
    "vivid colors": {"adjust": {"saturation": 40, "vibrance": 30}, "filter": {"name": "vivid", "intensity": 80}},
    "neon city": {"adjust": {"contrast": 30, "tint": 20}, "filter": {"name": "cyberpunk", "intensity": 80}},
    "pastel dream": {"adjust": {"brightness": 20, "saturation": -10}, "filter": {"name": "spring", "intensity": 50}},
}
TEST_TRUTH: dict[str, dict[str, Any]] = {
    "sunset glow": {"adjust": {"temperature": 40, "saturation": 20}, "filter": {"name": "none", "intensity": 0}},
    "winter morning": {"adjust": {"temperature": -40}, "filter": {"name": "winter", "intensity": 80}},
    "neon nights": {"adjust": {"contrast": 40}, "filter": {"name": "cyberpunk", "intensity": 90}},
}
MISTAKEN = ["cool morning", "dark atmosphere", "neon city", "pastel dream", "vivid colors"]  # sample (intent) order


def row(intent: str, tools: dict[str, Any], split: str, n_calls: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {"intent": intent, "intent_text": intent.title(), "n_calls": n_calls, "split": split}
    for tool in TOOLS:
        canonical = canonical_object(tool, tools.get(tool) or {})
        out[tool] = dumps(canonical)
        out[f"{tool}_used"] = is_used(tool, canonical)
    return out | {"source": "teacher", "augmented_from": None, "iteration": 0}


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ROW_SCHEMA | {"split": pl.String})


def build_store(root: Path, pool: list[tuple[str, int]] | None = None) -> tuple[Store, str]:
    """The version above as v1, and (optionally) its intent pool of (intent, n_calls)."""
    store = open_store(root)
    rows = [row(i, t, "train") for i, t in TRUTH.items()] + [row(i, t, "test") for i, t in TEST_TRUTH.items()]
    published = publish_version(store, rows_frame(rows), {"command": "test fixture"}, {"fixture": "augment"})
    if pool is not None:
        path = store.cache_dir / "intent_pool" / f"{published.name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(
            {
                "intent": [p[0] for p in pool],
                "intent_text": [p[0].upper() for p in pool],
                "reason": ["no_exports"] * len(pool),
                "n_calls": [p[1] for p in pool],
            },
            schema={"intent": pl.String, "intent_text": pl.String, "reason": pl.String, "n_calls": pl.Int64},
        ).write_parquet(path)
    return store, published.name


def perfect(intent: str) -> dict[str, str]:
    return {tool: "Parameters: " + dumps(canonical_object(tool, TRUTH[intent].get(tool) or {})) for tool in TOOLS}


def predictions_lines() -> list[dict[str, Any]]:
    lines = {intent: perfect(intent) for intent in TRUTH}
    lines["cool morning"]["filter"] = 'Parameters: {"name": "winter", "intensity": 50}'
    lines["dark atmosphere"]["adjust"] = 'Parameters: {"exposure": 30, "contrast": 20}'
    lines["vivid colors"]["selective_adjust"] = 'Parameters: {"red": {"saturation": 10}}'
    lines["neon city"]["filter"] = 'Parameters: {"name": "none", "intensity": 0}'
    lines["pastel dream"]["filter"] = 'Parameters: {"name": "not_a_lut", "intensity": 50}'
    return [{"intent": intent.upper()} | answers for intent, answers in lines.items()]  # matched after normalization


def write_predictions(path: Path) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in predictions_lines()), encoding="utf-8")
    return path


def every_file_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(path, path.read_bytes()) for path in sorted(root.rglob("*")) if path.is_file()]


def run_generation(
    store_root: Path, base_url: str, sources: list[str], concurrency: int = 4, per_mistake: int = 1
) -> Any:
    """The openai generator over `sources` against `base_url` (also the subprocess entry point below)."""
    from augment.cache import ResponseCache
    from augment.openai_generator import Endpoint, OpenAIGenerator

    endpoint = Endpoint(
        model="test-model",
        base_url=base_url,
        api_key="sk-test",
        timeout=30.0,
        concurrency=concurrency,
        max_retries=0,
    )
    return OpenAIGenerator(endpoint, ResponseCache.for_store(open_store(store_root))).propose(sources, per_mistake)


def run_exclusive_generation(store_root: Path, base_url: str, sources: list[str], per_mistake: int) -> Any:
    """What an augment run does when it sends: the generation, holding the store's sender lock."""
    from augment.cache import ResponseCache

    with ResponseCache.for_store(open_store(store_root)).exclusive(print):
        return run_generation(store_root, base_url, sources, per_mistake=per_mistake)


if __name__ == "__main__":
    import sys

    if sys.argv[1] == "--exclusive":  # --exclusive STORE BASE_URL PER_MISTAKE SOURCE…: as an augment run sends
        generated = run_exclusive_generation(Path(sys.argv[2]), sys.argv[3], sys.argv[5:], int(sys.argv[4]))
    else:  # STORE BASE_URL N: generate for "intent 0" … "intent N-1"
        generated = run_generation(Path(sys.argv[1]), sys.argv[2], [f"intent {n}" for n in range(int(sys.argv[3]))])
    print(len(generated.candidates))
