"""RQ2 on simulated data: does one augmentation iteration help in a low-data regime (12.5 % of train)?

The paper (Llama-2-7b student, GPT-4 generating similar intents): 100 % train 0.72; 12.5 % train 0.52; 12.5 % +
806 augmented intents 0.65 overall. Here, offline and on 2 CPU cores: the embedded kNN student, the `neighbors`
generator (logged zero-export phrasings near each mistaken intent), simulated teacher logs. Per seed: a seeded
12.5 % subset of v1's train split (test split unchanged) becomes a version; the kNN student is scored on the test
split before and after `databuild augment --iterations 1` from it.

    .venv/bin/python bench/rq2.py --world paper [--rows 240000] [--intents 12000] [--seeds 0 1 2] [--store DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402

from augment.loop import AugmentLoop, AugmentOptions  # noqa: E402
from databuild.contracts import load_rows, predictions_frame  # noqa: E402
from databuild.evaluation import evaluate  # noqa: E402
from databuild.packs.colour.reference import PACK, ROW_COLUMNS  # noqa: E402
from databuild.store import Store, open_store  # noqa: E402
from databuild.students import KnnStudent  # noqa: E402
from pipelines.emit import publish_version  # noqa: E402

DATABUILD = str(Path(sys.executable).parent / "databuild")
PAPER = {"full": 0.72, "subset": 0.52, "augmented": 0.65}


def knn_test_overall(store: Store, version: str) -> float:
    test = load_rows(store, version).filter(pl.col("split") == "test").sort("intent")
    intents = test.get_column("intent").to_list()
    student = KnnStudent(store, version, show_progress=False)
    result = evaluate(test, predictions_frame(intents, student.predict(intents), PACK), version, "test")
    return float(result["subsets"]["all"]["overall"])


def subset_version(store: Store, full: str, fraction: float, seed: int) -> str:
    rows = load_rows(store, full)
    train = rows.filter(pl.col("split") == "train").sort("intent")
    kept = train.sample(n=round(train.height * fraction), seed=seed, shuffle=False)
    subset = pl.concat([kept, rows.filter(pl.col("split") == "test")]).select(*ROW_COLUMNS, "split")
    published = publish_version(
        store,
        subset,
        {"command": f"bench/rq2.py: {fraction:.1%} of {full}'s train split", "parameters": {"seed": seed}},
        {"rq2_subset": {"of": full, "fraction": fraction, "seed": seed}},
        parent=full,
        parent_is_newest=False,
    )
    return published.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240_000)
    parser.add_argument("--intents", type=int, default=12_000)
    parser.add_argument("--fraction", type=float, default=0.125)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--per-mistake", type=int, default=1)
    parser.add_argument("--store", type=Path, default=None, help="Reuse a store (default: a temporary one).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.store or Path(scratch) / "store"
        run(args, open_store(root), Path(scratch))


def databuild(*arguments: str) -> None:
    done = subprocess.run([DATABUILD, *arguments], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"databuild {' '.join(arguments)} failed:\n{done.stderr}")


def run(args: Any, store: Store, scratch: Path) -> None:
    started = time.perf_counter()
    if not store.version_names():
        logs = scratch / "logs.jsonl.gz"
        simulate = ["simulate", "--out", str(logs), "--rows", str(args.rows), "--intents", str(args.intents)]
        databuild(*simulate)
        databuild("snapshot", "--store", str(store.root), "--logs", str(logs))
    full = store.version_names()[0]
    full_rows = load_rows(store, full)
    full_train = int((full_rows.get_column("split") == "train").sum())
    test_size = full_rows.height - full_train
    full_score = knn_test_overall(store, full)
    per_seed = []
    for seed in args.seeds:
        subset = subset_version(store, full, args.fraction, seed)
        before = knn_test_overall(store, subset)
        options = AugmentOptions(
            version=subset,
            iterations=1,
            generator="neighbors",
            sample=args.sample,
            per_mistake=args.per_mistake,
            seed=seed,
        )
        result = AugmentLoop(store, options, "bench/rq2.py augment", show_progress=False).run()[0]
        after = knn_test_overall(store, result.version)
        subset_size = int((load_rows(store, subset).get_column("split") == "train").sum())
        per_seed.append((seed, subset, result, subset_size, before, after))
    seconds = time.perf_counter() - started

    def mean(values: list[float]) -> str:
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    befores = [p[4] for p in per_seed]
    afters = [p[5] for p in per_seed]
    accepted = [p[2].accepted for p in per_seed]
    sizes = [p[3] for p in per_seed]
    print(
        f"RQ2 on simulated logs ({args.rows:,} calls, {args.intents:,} intents → {full_train:,} train / "
        f"{test_size:,} test intents); kNN student, neighbors generator, {len(per_seed)} seed(s), {seconds:.0f} s"
    )
    print()
    print("| train | augmentations | train size | overall (kNN, test) | paper (Llama-2-7b) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| 100 % | 0 | {full_train:,} | {full_score:.3f} | {PAPER['full']:.2f} |")
    fraction = f"{args.fraction:.1%}"
    mean_size = statistics.mean(sizes)
    mean_added = statistics.mean(accepted)
    print(f"| {fraction} | 0 | {mean_size:,.0f} | {mean(befores)} | {PAPER['subset']:.2f} |")
    print(
        f"| {fraction} | {mean_added:,.0f} ({mean_added / mean_size:.1%}) | {mean_size + mean_added:,.0f} | "
        f"{mean(afters)} | {PAPER['augmented']:.2f} |"
    )
    print()
    print(
        "| seed | subset | augmented | mined | mistaken intents | candidates | accepted | rejected | before | after |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---|---:|---:|")
    for seed, subset, result, _, before, after in per_seed:
        rejected = ", ".join(f"{reason} {n}" for reason, n in result.rejected.items() if n) or "-"
        print(
            f"| {seed} | {subset} | {result.version} | {result.mined} | {result.mistakes['intents']} | "
            f"{result.candidates} | {result.accepted} | {rejected} | {before:.3f} | {after:.3f} |"
        )


if __name__ == "__main__":
    main()
