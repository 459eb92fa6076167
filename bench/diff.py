"""Benchmark `databuild diff`: two versions of N intents (default 10 000) with every kind of change.

Version B is version A with 3 % of intents removed, 3 % added (augmented), 10 % with changed adjust parameters,
5 % with a changed selective_adjust, 5 % with a renamed filter and 1 % moved between splits. Both are written with
the real `publish_version` (not timed), then the diff is timed in-process (best of 3) and end to end through the
CLI in a fresh interpreter. Target: the diff of two 10 k-intent versions in <= 2 s.

Run: .venv/bin/python bench/diff.py [--intents 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.packs.colour.reference import canonical_object, dumps, is_used, lut_names, params
from databuild.store import open_store
from pipelines.diff import diff_versions, read_version_rows
from pipelines.emit import publish_version
from pipelines.report import render_html, render_markdown

TARGET_S = 2.0


def _random_tool(rng: np.random.Generator, tool: str, use_share: float) -> dict[str, Any]:
    if tool == "filter":
        if rng.random() > use_share:
            return {"name": "none", "intensity": 0}
        return {"name": str(rng.choice(lut_names()[1:])), "intensity": int(rng.integers(10, 100))}
    obj: dict[str, Any] = {}
    if rng.random() < use_share:
        for p in params(tool):
            if rng.random() < 0.4:
                value = int(rng.integers(int(p.minimum), int(p.maximum) + 1))
                if p.sub is None:
                    obj[p.key] = value
                else:
                    obj.setdefault(p.key, {})[p.sub] = value
    return canonical_object(tool, obj)


def _row(intent: str, split: str, objects: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "intent": intent,
        "intent_text": intent,
        **{tool: dumps(obj) for tool, obj in objects.items()},
        **{f"{tool}_used": is_used(tool, obj) for tool, obj in objects.items()},
        "n_calls": 3,
        "source": extra.get("source", "teacher"),
        "augmented_from": extra.get("augmented_from"),
        "iteration": extra.get("iteration", 0),
        "split": split,
    }


def build_versions(intents: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    shares = {"adjust": 0.92, "selective_adjust": 0.32, "filter": 0.66}
    rows_a = []
    for index in range(intents):
        objects = {tool: _random_tool(rng, tool, share) for tool, share in shares.items()}
        rows_a.append(_row(f"intent {index:06d}", "test" if rng.random() < 0.1 else "train", objects))
    rows_b = []
    for current in rows_a:
        draw = rng.random()
        if draw < 0.03:
            continue  # removed
        objects = {tool: json.loads(current[tool]) for tool in shares}
        split = current["split"]
        if draw < 0.13:
            objects["adjust"] = _random_tool(rng, "adjust", 0.95)
        elif draw < 0.18:
            objects["selective_adjust"] = _random_tool(rng, "selective_adjust", 0.9)
        elif draw < 0.23:
            objects["filter"] = _random_tool(rng, "filter", 0.9)
        elif draw < 0.24:
            split = "test" if split == "train" else "train"
        rows_b.append(_row(current["intent"], split, objects))
    for index in range(int(intents * 0.03)):
        source = rows_a[index]
        objects = {tool: json.loads(source[tool]) for tool in shares}
        rows_b.append(
            _row(f"new intent {index:06d}", "train", objects, source="augmented", augmented_from=source["intent"])
        )
    return rows_a, rows_b


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"augmented_from": pl.String}, infer_schema_length=None)


def _best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        store = open_store(Path(tmp) / "store")
        start = time.perf_counter()
        rows_a, rows_b = build_versions(args.intents)
        a = publish_version(store, _frame(rows_a), {"command": "bench a"}, {"bench": "a"}).name
        b = publish_version(store, _frame(rows_b), {"command": "bench b"}, {"bench": "b"}).name
        setup = time.perf_counter() - start

        read_s, _ = _best_of(3, lambda: (read_version_rows(store, a), read_version_rows(store, b)))
        diff_s, result = _best_of(3, lambda: diff_versions(store, a, b))
        json_s, _ = _best_of(3, lambda: json.dumps(result.payload, indent=2, ensure_ascii=False))
        markdown_s, _ = _best_of(3, lambda: render_markdown(result, 20))
        html_s, page = _best_of(3, lambda: render_html(result, 20))
        cli = [str(Path(sys.executable).parent / "databuild"), "diff", a, b, "--store", str(store.root)]
        cli_json_s, _ = _best_of(
            3,
            lambda: subprocess.run(
                [*cli, "--format", "json", "--output", f"{tmp}/d.json"], check=True, capture_output=True
            ),
        )
        cli_html_s, _ = _best_of(
            3,
            lambda: subprocess.run(
                [*cli, "--format", "html", "--output", f"{tmp}/d.html"], check=True, capture_output=True
            ),
        )

    payload = result.payload
    changed = sum(len(part["changed"]) for part in payload["splits"].values())
    added = sum(len(part["added"]) for part in payload["splits"].values())
    removed = sum(len(part["removed"]) for part in payload["splits"].values())
    print(
        f"\n{len(rows_a)} vs {len(rows_b)} intents: {added} added, {removed} removed, {changed} (intent, tool) "
        f"changes, {len(payload['moved'])} moved; building both versions (not timed): {setup:.1f} s\n"
    )
    print("| step | seconds (best of 3) | target |")
    print("|---|---:|---|")
    print(f"| read both versions' rows (Arrow) | {read_s:.3f} | |")
    print(f"| diff_versions (read + set-based diff) | {diff_s:.3f} | ≤ {TARGET_S:.0f} s {_mark(diff_s)} |")
    print(f"| JSON serialization (complete lists) | {json_s:.3f} | |")
    print(f"| Markdown report (top 20) | {markdown_s:.3f} | |")
    print(f"| HTML report (top 20, {len(page) // 1024} KiB, with previews) | {html_s:.3f} | |")
    target = f"≤ {TARGET_S:.0f} s {_mark(cli_json_s)}"
    print(f"| `databuild diff --format json` end to end (new process) | {cli_json_s:.3f} | {target} |")
    print(f"| `databuild diff --format html` end to end (new process) | {cli_html_s:.3f} | |")


def _mark(seconds: float) -> str:
    return "✓" if seconds <= TARGET_S else "✗"


if __name__ == "__main__":
    main()
