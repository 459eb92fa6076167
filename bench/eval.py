"""Benchmark `databuild eval` (100 k test rows) and `databuild predict` with the kNN student (10 k intents).

Builds synthetic versions in a temporary store, times the commands in this process (imports already paid, except
the encoder's own load in the cold run), and prints a markdown table with the targets of the issue.

    .venv/bin/python bench/eval.py [--eval-rows 100000] [--predict-intents 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
LOAD_BEFORE = os.getloadavg()
sys.path.insert(0, str(REPO))

from databuild.contracts import load_rows  # noqa: E402
from databuild.evaluation import evaluate, read_predictions  # noqa: E402
from databuild.packs.colour.reference import (  # noqa: E402
    lut_names,
    params,
    sparse_json,  # noqa: E402
)
from databuild.store import Store  # noqa: E402
from databuild.students import KnnStudent, run_prediction  # noqa: E402
from pipelines.emit import publish_version  # noqa: E402

WORDS = [
    "warm",
    "cool",
    "golden",
    "hour",
    "moody",
    "dark",
    "vintage",
    "film",
    "retro",
    "teal",
    "orange",
    "bright",
    "pastel",
    "sunset",
    "night",
    "cinematic",
    "soft",
    "dramatic",
    "faded",
    "matte",
    "summer",
    "winter",
    "autumn",
    "spring",
    "morning",
    "evening",
    "beach",
    "forest",
    "city",
    "neon",
    "rainy",
    "foggy",
    "sunny",
    "portrait",
    "landscape",
    "cozy",
    "crisp",
    "vivid",
    "muted",
    "dreamy",
    "gritty",
    "clean",
    "airy",
    "punchy",
    "cold",
    "hot",
    "blue",
    "green",
    "red",
    "pink",
    "purple",
]


def canonical_column(tool: str, values: np.ndarray) -> pl.Series:
    """Canonical JSON strings of a vector tool from an (n, parameters) int matrix, built column-wise."""
    pieces: list[pl.Expr] = [pl.lit("{")]
    frame = pl.DataFrame({f"c{i}": values[:, i] for i in range(values.shape[1])})
    previous_key = None
    for p in params(tool):
        value = pl.col(f"c{p.position}").cast(pl.String)
        if p.sub is None:
            pieces += [pl.lit(("," if p.position else "") + f'"{p.key}":'), value]
            continue
        if p.key != previous_key:
            pieces.append(pl.lit(("}," if previous_key else "") + f'"{p.key}":{{'))
            previous_key = p.key
        else:
            pieces.append(pl.lit(","))
        pieces += [pl.lit(f'"{p.sub}":'), value]
    pieces.append(pl.lit("}}" if previous_key else "}"))
    return frame.select(pl.concat_str(pieces).alias(tool)).to_series()


def random_vectors(tool: str, n: int, rng: np.random.Generator, used_share: float) -> np.ndarray:
    slots = params(tool)
    low = np.array([s.minimum for s in slots])
    high = np.array([s.maximum for s in slots])
    values = rng.integers(low, high + 1, size=(n, len(slots)))
    values[rng.random((n, len(slots))) < 0.6] = 0  # sparse, like real answers
    values[rng.random(n) >= used_share] = 0
    return values


def filter_column(n: int, rng: np.random.Generator, used_share: float) -> pl.Series:
    names = np.array(lut_names()[1:])[rng.integers(0, len(lut_names()) - 1, n)]
    intensity = rng.integers(1, 101, n)
    used = rng.random(n) < used_share
    return pl.Series(
        "filter",
        np.where(used, [f'{{"name":"{a}","intensity":{b}}}' for a, b in zip(names, intensity, strict=True)], ""),
    ).replace("", '{"name":"none","intensity":0}')


def intents(n: int, rng: np.random.Generator, offset: int = 0) -> list[str]:
    picks = rng.integers(0, len(WORDS), size=(n, 5))
    return [" ".join(WORDS[i] for i in row[: 2 + k % 4]) + f" {offset + k}" for k, row in enumerate(picks)]


def synthetic_rows(n_test: int, n_train: int, rng: np.random.Generator) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    n = n_test + n_train
    vectors = {
        tool: random_vectors(tool, n, rng, share) for tool, share in (("adjust", 0.9), ("selective_adjust", 0.35))
    }
    rows = pl.DataFrame(
        {
            "intent": intents(n, rng),
            "adjust": canonical_column("adjust", vectors["adjust"]),
            "selective_adjust": canonical_column("selective_adjust", vectors["selective_adjust"]),
            "filter": filter_column(n, rng, 0.68),
            "n_calls": rng.integers(1, 10, n),
            "split": ["test"] * n_test + ["train"] * n_train,
        }
    ).with_columns(
        pl.col("intent").alias("intent_text"),
        pl.col("filter").str.contains('"name":"none"').not_().alias("filter_used"),
        pl.lit("teacher").alias("source"),
        pl.lit(None, dtype=pl.String).alias("augmented_from"),
        pl.lit(0).alias("iteration"),
        *(pl.Series(f"{tool}_used", np.any(vectors[tool] != 0, axis=1)) for tool in vectors),
    )
    return rows, vectors


def predictions_file(rows: pl.DataFrame, vectors: dict[str, np.ndarray], path: Path, rng: np.random.Generator) -> None:
    """A student's answers: truth plus noise, some tools dropped, some outputs invalid, as completion texts."""
    n = rows.height
    columns = {}
    for tool, truth in vectors.items():
        slots = params(tool)
        noisy = truth + rng.integers(-15, 16, truth.shape) * (truth != 0)
        noisy = np.clip(noisy, [s.minimum for s in slots], [s.maximum for s in slots]).astype(np.int64)
        noisy[rng.random(n) < 0.1] = 0
        text = pl.concat_str([pl.lit("Parameters: "), sparse_json(pl.lit(canonical_column(tool, noisy)))])
        columns[tool] = pl.select(text).to_series()
    columns["filter"] = pl.select(
        pl.concat_str([pl.lit("Parameters: "), pl.lit(filter_column(n, rng, 0.6))])
    ).to_series()
    frame = pl.DataFrame({"intent": rows["intent"]} | columns).with_columns(
        pl.when(pl.Series(rng.random(n) < 0.02))
        .then(pl.lit("Parameters: {oops"))
        .otherwise(pl.col("adjust"))
        .alias("adjust")
    )
    frame.write_ndjson(path)


def publish(store: Store, rows: pl.DataFrame) -> str:
    return publish_version(store, rows, {"command": "bench"}, {"bench": True}).name


def bench_eval(root: Path, n_rows: int, rng: np.random.Generator) -> dict[str, float]:
    store = Store(root / "eval-store")
    rows, vectors = synthetic_rows(n_rows, 100, rng)
    version = publish(store, rows)
    test = rows.filter(pl.col("split") == "test")
    path = root / "eval-preds.jsonl"
    predictions_file(test, {tool: v[: test.height] for tool, v in vectors.items()}, path, rng)
    started, cpu_started = time.perf_counter(), time.process_time()
    truth = load_rows(store, version).filter(pl.col("split") == "test")
    loaded = time.perf_counter()
    predicted = read_predictions(path)
    read = time.perf_counter()
    result = evaluate(truth, predicted, version, "test")
    done = time.perf_counter()
    assert result["subsets"]["all"]["intents"] == n_rows
    return {
        "load_rows": loaded - started,
        "read_predictions": read - loaded,
        "evaluate": done - read,
        "total": done - started,
        "total_cpu": time.process_time() - cpu_started,
    }


def bench_predict(root: Path, n_intents: int, rng: np.random.Generator) -> dict[str, float]:
    store = Store(root / "knn-store")
    rows, _ = synthetic_rows(100, n_intents, rng)
    version = publish(store, rows)
    output = root / "knn-preds.jsonl"
    cpu_started = time.process_time()
    cold = run_prediction(store, version, "train", KnnStudent(store, version, show_progress=False), output)
    cold_cpu = time.process_time() - cpu_started
    warm = run_prediction(store, version, "train", KnnStudent(store, version, show_progress=False), output)
    warm_cpu = time.process_time() - cpu_started - cold_cpu
    assert warm["rows"] == n_intents and warm["cache_hits"] == n_intents
    started = time.perf_counter()
    command = [str(REPO / ".venv/bin/databuild"), "predict", "--store", str(store.root), "--version", version]
    command += ["--split", "train", "--output", str(output), "--format", "json"]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    process = time.perf_counter() - started
    return {
        "cold": cold["seconds"],
        "cold_cpu": cold_cpu,
        "warm_cpu": warm_cpu,
        "warm": warm["seconds"],
        "warm_process": process,
        "warm_reported": json.loads(completed.stdout)["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-rows", type=int, default=100_000)
    parser.add_argument("--predict-intents", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    root = Path(tempfile.mkdtemp(prefix="databuild-bench-eval-"))
    try:
        evaluation = bench_eval(root, args.eval_rows, rng)
        prediction = bench_predict(root, args.predict_intents, rng)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    k_rows, k_intents = f"{args.eval_rows:,}", f"{args.predict_intents:,}"
    table = [
        (f"eval, {k_rows} test rows (load rows + read predictions + metrics)", evaluation["total"], "≤ 5 s"),
        ("  of which: load_rows (datasets)", evaluation["load_rows"], ""),
        ("  of which: read_predictions (JSONL)", evaluation["read_predictions"], ""),
        ("  of which: evaluate (parse SQL + metrics)", evaluation["evaluate"], ""),
        (
            f"predict kNN, {k_intents} intents, cold embedding cache (encoder load included)",
            prediction["cold"],
            "≤ 60 s",
        ),
        (f"predict kNN, {k_intents} intents, warm embedding cache", prediction["warm"], "≤ 2 s"),
        (
            f"`databuild predict` process, {k_intents} intents, warm (interpreter start included)",
            prediction["warm_process"],
            "",
        ),
    ]
    cpu = {0: evaluation["total_cpu"], 4: prediction["cold_cpu"], 5: prediction["warm_cpu"]}
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs; load average before / after: {LOAD_BEFORE[0]:.1f} / {load[0]:.1f}"
        " (other jobs on the machine inflate wall time)"
    )
    print()
    print("| benchmark | seconds | CPU seconds (this process) | target |")
    print("|---|---:|---:|---|")
    for position, (name, seconds, target) in enumerate(table):
        cpu_text = f"{cpu[position]:.2f}" if position in cpu else ""
        print(f"| {name} | {seconds:.2f} | {cpu_text} | {target} |")


if __name__ == "__main__":
    main()
