"""RQ2, the paper's protocol, on the long-tail world: does augmentation lift a student trained on 12.5 % of train?

Per seed s (pre-registered, docs/world.md): `databuild simulate --world longtail --seed s` (the whole world: the
100 % reference) and the same with `--train-share 0.125` (the low-data regime: logs for 12.5 % of the train intents
by the snapshot's split formula, and every test intent); `databuild snapshot` of each; then, from the 12.5 %
version, `databuild augment --generator openai --base-url <bench/paraphraser.py's endpoint>` for `--iterations`
rounds (mine a sample of 1,000 teacher train rows, the student's mistakes, one paraphrase per mistaken intent,
filter, add the new version). Every version is scored on its test split (the augment loop copies it untouched) with
the paper's metrics (`databuild.evaluation`): overall on all, r3 and r5. Over the seeds: the mean and a 95 %
Student-t interval; intents added per iteration likewise.

Students: `knn` (the embedded one; the loop rebuilds it per version), or `smollm2-135m`, trained per version with
`databuild train --model smollm2-135m` (then `predict` + `eval`, and `augment --student <run>` one iteration at a
time): a CUDA machine fills that column with one command:

    .venv/bin/python bench/rq2.py [--student knn|smollm2-135m] [--seeds 0 1 2 3 4] [--iterations 3]
    .venv/bin/python bench/rq2.py --world paper ...   # the earlier RQ2 on the paper world (bench/rq2_paper.py)
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402

from databuild.contracts import load_rows, predictions_frame  # noqa: E402
from databuild.evaluation import evaluate, read_predictions  # noqa: E402
from databuild.packs.colour.reference import PACK  # noqa: E402
from databuild.store import Store, open_store  # noqa: E402
from databuild.students import KnnStudent  # noqa: E402

DATABUILD = str(Path(sys.executable).parent / "databuild")
SUBSETS = ("all", "r3", "r5")
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
PAPER = {"100 %": 0.72, "12.5 %": 0.52, "+1": 0.65}


def databuild(*arguments: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([DATABUILD, *arguments], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"databuild {' '.join(arguments)} failed:\n{done.stderr}")
    return done.stdout


@dataclass
class SeedResult:
    seed: int
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # row label -> subset -> overall
    train_size: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    test_size: int = 0
    seconds: float = 0.0


def knn_scores(store: Store, version: str) -> dict[str, float]:
    test = load_rows(store, version).filter(pl.col("split") == "test").sort("intent")
    intents = test.get_column("intent").to_list()
    student = KnnStudent(store, version, show_progress=False)
    result = evaluate(test, predictions_frame(intents, student.predict(intents), PACK), version, "test")
    return {subset: float(result["subsets"][subset]["overall"]) for subset in SUBSETS}


def trained_scores(store: Store, version: str, run_dir: str, scratch: Path) -> dict[str, float]:
    predictions = scratch / f"predictions-{version}.jsonl"
    databuild("predict", "--store", str(store.root), "--version", version, "--student", run_dir, "-o", str(predictions))
    test = load_rows(store, version).filter(pl.col("split") == "test").sort("intent")
    result = evaluate(test, read_predictions(predictions, PACK), version, "test")
    return {subset: float(result["subsets"][subset]["overall"]) for subset in SUBSETS}


def train_student(store: Store, version: str, args: argparse.Namespace) -> str:
    out = databuild(
        "train", "--store", str(store.root), "--version", version, "--model", args.student, "--lora",
        "--epochs", str(args.epochs), "--select-last", str(min(3, args.epochs)), "--seed", str(args.seed_offset),
        "--format", "json",
    )  # fmt: skip
    return str(json.loads(out)["run_dir"])


def train_size(store: Store, version: str) -> int:
    return int((load_rows(store, version).get_column("split") == "train").sum())


def scores_of(store: Store, version: str, args: argparse.Namespace, scratch: Path) -> tuple[dict[str, float], str]:
    if args.student == "knn":
        return knn_scores(store, version), "knn"
    run_dir = train_student(store, version, args)
    return trained_scores(store, version, run_dir, scratch), run_dir


def run_seed(seed: int, args: argparse.Namespace, scratch: Path, store: Store) -> SeedResult:
    from paraphraser import paraphrasing_server

    started = time.perf_counter()
    result = SeedResult(seed)
    full_logs, share_logs = scratch / f"full-{seed}.jsonl.gz", scratch / f"share-{seed}.jsonl.gz"
    world = ["simulate", "--world", "longtail", "--seed", str(seed), "--rows", str(args.rows)]
    databuild(*world, "--out", str(full_logs))
    databuild(*world, "--out", str(share_logs), "--train-share", str(args.share))
    full = snapshot(store, full_logs)
    result.scores["100 %"], _ = scores_of(store, full, args, scratch)
    result.train_size["100 %"] = train_size(store, full)
    version = snapshot(store, share_logs)
    result.test_size = int((load_rows(store, version).get_column("split") == "test").sum())
    result.scores["12.5 %"], student = scores_of(store, version, args, scratch)
    result.train_size["12.5 %"] = train_size(store, version)
    with paraphrasing_server(seed) as server:
        for iteration in range(1, args.iterations + 1):
            label = f"+{iteration}"
            augmented = augment(store, version, student, seed, server.base_url, args)
            result.added[label] = augmented["accepted"]
            version = augmented["version"]
            result.scores[label], student = scores_of(store, version, args, scratch)
            result.train_size[label] = train_size(store, version)
    result.seconds = time.perf_counter() - started
    return result


def snapshot(store: Store, logs: Path) -> str:
    databuild("snapshot", "--store", str(store.root), "--logs", str(logs))
    return store.version_names()[-1]


def augment(store: Store, version: str, student: str, seed: int, base_url: str, args: argparse.Namespace) -> dict:
    """One iteration of `databuild augment` against the paraphrasing endpoint (the kNN student is rebuilt on the
    version by the loop; a trained student is the run trained on it). The iteration's seed shifts per round."""
    env = os.environ | {"OPENAI_API_KEY": "sk-local-paraphraser"}
    out = databuild(
        "augment", "--store", str(store.root), "--version", version, "--iterations", "1", "--student", student,
        "--generator", "openai", "--base-url", base_url, "--sample", str(args.sample), "--per-mistake", "1",
        "--seed", str(seed * 100 + len(store.lineage(version))), "--format", "json", env=env,
    )  # fmt: skip
    return json.loads(out)["iterations"][-1]


def mean_interval(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    mean = statistics.mean(values)
    half = T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / len(values) ** 0.5
    return f"{mean:.{digits}f} [{mean - half:.{digits}f}, {mean + half:.{digits}f}]"


def print_tables(results: list[SeedResult], args: argparse.Namespace, seconds: float) -> None:
    labels = ["12.5 %"] + [f"+{i}" for i in range(1, args.iterations + 1)] + ["100 %"]
    print(
        f"RQ2 on the long-tail world: student {args.student}, {len(results)} seed(s) "
        f"({', '.join(str(r.seed) for r in results)}), {args.iterations} iteration(s), sample {args.sample}, "
        f"paraphrasing endpoint; test split {statistics.mean(r.test_size for r in results):,.0f} intents; "
        f"{seconds:.0f} s; mean [95 % t-interval over seeds]"
    )
    print()
    print("| train | intents added | train size | overall all | overall r3 | overall r5 | paper (Llama-2-7b, all) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        added = [float(r.added[label]) for r in results] if label in results[0].added else None
        cells = [mean_interval([r.scores[label][s] for r in results]) for s in SUBSETS]
        size = statistics.mean(r.train_size[label] for r in results)
        name = label if label in ("12.5 %", "100 %") else f"12.5 % {label} iteration{'s' if label != '+1' else ''}"
        print(
            f"| {name} | {mean_interval(added, 0) if added else '-'} | {size:,.0f} | {' | '.join(cells)} | "
            f"{PAPER.get(label, '')} |"
        )
    print()
    print("Paired by seed, the lift over the 12.5 % student (mean [95 % t-interval]; how many seeds gained):")
    print()
    print("| train | all | r3 | r5 |")
    print("|---|---:|---:|---:|")
    for label in labels[1:]:
        cells = []
        for subset in SUBSETS:
            lifts = [r.scores[label][subset] - r.scores["12.5 %"][subset] for r in results]
            gained = sum(lift > 0 for lift in lifts)
            cells.append(f"{mean_interval(lifts).replace('0.', '.')} ({gained}/{len(lifts)})")
        print(f"| {label} | {' | '.join(cells)} |")
    print()
    print("| seed | " + " | ".join(f"{label} all" for label in labels) + " | added per iteration | seconds |")
    print("|---:|" + "---:|" * (len(labels) + 2))
    for r in results:
        added = ", ".join(str(r.added[label]) for label in labels if label in r.added)
        print(
            f"| {r.seed} | "
            + " | ".join(f"{r.scores[label]['all']:.3f}" for label in labels)
            + f" | {added} | {r.seconds:.0f} |"
        )


def main() -> None:
    if "--world" in sys.argv and sys.argv[sys.argv.index("--world") + 1] == "paper":
        index = sys.argv.index("--world")
        sys.argv = [str(Path(__file__).with_name("rq2_paper.py"))] + sys.argv[1:index] + sys.argv[index + 2 :]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=["longtail", "paper"], default="longtail")
    parser.add_argument("--student", default="knn", help="knn or smollm2-135m (trained per version; a GPU helps).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.125)
    parser.add_argument("--rows", type=int, default=240_000, help="Teacher calls of the whole world (simulate --rows).")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10, help="smollm2-135m: epochs per version.")
    parser.add_argument("--seed-offset", type=int, default=0, help="smollm2-135m: the training seed.")
    parser.add_argument("--store", type=Path, default=None, help="Store to build in (default: a temporary one).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the per-seed results here.")
    parser.add_argument("--from-json", type=Path, default=None, help="Print the tables of an earlier --json file.")
    args = parser.parse_args()
    if args.from_json:
        saved = [SeedResult(**r) for r in json.loads(args.from_json.read_text())]
        print_tables(saved, args, sum(r.seconds for r in saved))
        return
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="rq2-") as scratch:
        store = open_store(args.store or Path(scratch) / "store")  # one store: the embedding cache is shared
        for seed in args.seeds:
            results.append(run_seed(seed, args, Path(scratch), store))
            print(f"seed {seed} done in {results[-1].seconds:.0f} s", file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))
    print_tables(results, args, time.perf_counter() - started)


if __name__ == "__main__":
    main()
