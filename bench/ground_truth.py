"""Does export-maximizing selection recover the truth? Ground-truth strategies scored against the long-tail world's
hidden truth, with the paper's metrics, per popularity bucket, at two teacher noise levels, with bootstrap 95 % CIs.

Per noise level: `databuild simulate --world longtail --teacher-noise N --truth`, then `databuild snapshot` with
`--rank raw` and with `--rank wilson` (the product's two choices). The other strategies pick, per kept intent and
tool, from the same valid calls (parsed by the snapshot's own SQL model): the majority vote over calls (ties: the
smaller canonical JSON), the most recent call, a random call (seeded). Every strategy answers the intents the
snapshot kept (at least one export; both splits); its picks are scored as predictions against the truth with
`databuild.evaluation` (selection F1, quality, final per tool; overall = mean of the finals), per bucket of the
intent's `n_calls` (1, 2, 3-4, >= 5, all). Intervals: 1,000 bootstrap resamples of the intents of a bucket (the
same resamples for every strategy), percentile 2.5-97.5.

    .venv/bin/python bench/ground_truth.py [--noise 1.0 2.0] [--seed 0] [--rows 240000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databuild.contracts import load_rows  # noqa: E402
from databuild.evaluation import harmonic_mean, score_rows, tool_metrics  # noqa: E402
from databuild.normalize import normalize_intent  # noqa: E402
from databuild.outputs import parse_tool_outputs  # noqa: E402
from databuild.packs.colour.reference import PACK, TOOLS  # noqa: E402
from databuild.store import open_store  # noqa: E402

DATABUILD = str(Path(sys.executable).parent / "databuild")
STRATEGIES = ("export rate (raw)", "Wilson lower bound", "majority vote", "most recent call", "random call")
BUCKETS = (("1", 1, 1), ("2", 2, 2), ("3-4", 3, 4), (">= 5", 5, 10**9), ("all", 1, 10**9))


def databuild(*arguments: str) -> str:
    done = subprocess.run([DATABUILD, *arguments], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"databuild {' '.join(arguments)} failed:\n{done.stderr}")
    return done.stdout


def canonical_picks(frame: pl.DataFrame) -> pl.DataFrame:
    """(intent, tool, text) -> + canonical, used, reason, by the snapshot's SQL model."""
    keyed = frame.with_row_index("key").with_columns(pl.col("key").cast(pl.Int64))
    return parse_tool_outputs(keyed.select("key", "tool", "text")).join(keyed.drop("tool", "text"), on="key")


def valid_calls(logs: Path) -> pl.DataFrame:
    """Every valid call (deduplicated by event, with a request): intent, tool, canonical, ts, event_id."""
    raw = pl.read_ndjson(logs).filter(pl.col("request_id").is_not_null()).unique("event_id", keep="first")
    raw = raw.with_columns(
        pl.col("intent").map_elements(normalize_intent, return_dtype=pl.String),
        pl.when(pl.col("response").str.contains("JSON:", literal=True))
        .then(pl.concat_str([pl.lit("JSON: "), pl.col("response").str.split("JSON:").list.last()]))
        .otherwise(pl.col("response"))
        .alias("text"),
    )
    parsed = canonical_picks(raw.select("intent", "tool", "text", "ts", "event_id"))
    return parsed.filter(pl.col("reason").is_null()).select("intent", "tool", "canonical", "ts", "event_id")


def call_strategies(calls: pl.DataFrame, seed: int) -> dict[str, pl.DataFrame]:
    """Per strategy over calls, per (intent, tool) its canonical pick."""
    majority = (
        calls.group_by("intent", "tool", "canonical")
        .len()
        .sort("len", "canonical", descending=[True, False])
        .unique(["intent", "tool"], keep="first")
    )
    recent = calls.sort("ts", "event_id", descending=True).unique(["intent", "tool"], keep="first")
    shuffled = calls.sort("event_id").sample(fraction=1.0, shuffle=True, seed=seed)
    random_call = shuffled.unique(["intent", "tool"], keep="first", maintain_order=True)
    picked = {"majority vote": majority, "most recent call": recent, "random call": random_call}
    return {name: frame.select("intent", "tool", "canonical") for name, frame in picked.items()}


def version_picks(rows: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [rows.select("intent", pl.lit(tool).alias("tool"), pl.col(tool).alias("canonical")) for tool in TOOLS]
    )


def truth_frame(truth_path: Path, kept: pl.DataFrame) -> pl.DataFrame:
    """The hidden truth of the kept intents in the rows format (canonical per tool, `<tool>_used`, n_calls)."""
    records = [json.loads(line) for line in truth_path.read_text().splitlines()]
    flat = pl.DataFrame(
        [
            {"intent": r["intent"], "tool": tool, "text": "JSON: " + json.dumps(r["outputs"][tool])}
            for r in records
            for tool in TOOLS
        ]
    )
    parsed = canonical_picks(flat)
    wide = parsed.pivot(on="tool", index="intent", values="canonical")
    used = parsed.pivot(on="tool", index="intent", values="used").rename({t: f"{t}_used" for t in TOOLS})
    return kept.join(wide, on="intent").join(used, on="intent")


def scored(truth: pl.DataFrame, picks: pl.DataFrame) -> pl.DataFrame:
    """The strategy's picks as predictions, scored per (intent, tool) by `databuild.evaluation.score_rows`."""
    wide = picks.with_columns(pl.concat_str([pl.lit("JSON: "), pl.col("canonical")]).alias("text")).pivot(
        on="tool", index="intent", values="text"
    )
    predictions = truth.select("intent").join(wide, on="intent", how="left").select("intent", *TOOLS)
    return score_rows(truth, predictions, PACK).select(
        "intent", "n_calls", "tool", "truth_used", "predicted_used", "quality"
    )


def bootstrap_overall(frame: pl.DataFrame, weights: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Overall per resample (weights: resample x intent counts, intents in `frame`'s intent order) and the point
    estimates per tool (by `tool_metrics` itself)."""
    finals, point = [], {}
    for tool in TOOLS:
        part = frame.filter(pl.col("tool") == tool).sort("intent")
        truth_used = part.get_column("truth_used").to_numpy().astype(bool)
        predicted_used = part.get_column("predicted_used").to_numpy().astype(bool)
        quality = part.get_column("quality").fill_null(0.0).to_numpy()
        both = truth_used & predicted_used
        tp, fp, fn = weights @ both, weights @ (~truth_used & predicted_used), weights @ (truth_used & ~predicted_used)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp, dtype=float), where=(tp + fp) > 0)
        recall = np.divide(tp, tp + fn, out=np.zeros_like(tp, dtype=float), where=(tp + fn) > 0)
        selection = np.divide(
            2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=(precision + recall) > 0
        )
        mean_quality = np.divide(
            weights @ (quality * both), weights @ both, out=np.zeros_like(precision), where=(weights @ both) > 0
        )
        q = np.maximum(mean_quality, 0)
        finals.append(np.divide(2 * selection * q, selection + q, out=np.zeros_like(q), where=(selection + q) > 0))
        metrics = tool_metrics(truth_used, predicted_used, quality[both])
        point[tool] = metrics["final"]
        assert abs(harmonic_mean(metrics["selection"], max(metrics["quality"], 0.0)) - metrics["final"]) < 1e-12
    return np.mean(finals, axis=0), point


def interval(values: np.ndarray) -> str:
    low, high = np.percentile(values, [2.5, 97.5])
    return f"[{low:.3f}, {high:.3f}]"


def measure_noise(noise: float, args: argparse.Namespace, scratch: Path) -> dict[str, dict[str, tuple]]:
    logs, truth_path = scratch / f"logs-{noise}.jsonl", scratch / f"truth-{noise}.jsonl"
    databuild(
        "simulate", "--world", "longtail", "--out", str(logs), "--truth", str(truth_path), "--rows", str(args.rows),
        "--seed", str(args.seed), "--teacher-noise", str(noise),
    )  # fmt: skip
    picks = {}
    for rank, name in (("raw", STRATEGIES[0]), ("wilson", STRATEGIES[1])):
        store = open_store(scratch / f"store-{noise}-{rank}")
        databuild("snapshot", "--store", str(store.root), "--logs", str(logs), "--rank", rank)
        rows = load_rows(store, store.version_names()[-1])
        picks[name] = version_picks(rows)
    kept = rows.select("intent", "n_calls")
    picks |= call_strategies(valid_calls(logs).join(kept.select("intent"), on="intent"), args.seed)
    truth = truth_frame(truth_path, kept)
    per_strategy = {name: scored(truth, picks[name]) for name in STRATEGIES}
    return summarize(per_strategy, truth, args)


def summarize(per_strategy: dict[str, pl.DataFrame], truth: pl.DataFrame, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    out: dict[str, dict[str, tuple]] = {name: {} for name in STRATEGIES}
    for bucket, low, high in BUCKETS:
        intents = truth.filter(pl.col("n_calls").is_between(low, high)).get_column("intent").sort()
        weights = rng.multinomial(len(intents), np.full(len(intents), 1 / len(intents)), size=args.resamples)
        for name, frame in per_strategy.items():
            part = frame.filter(pl.col("intent").is_in(intents.implode()))
            resampled, point = bootstrap_overall(part, weights.astype(float))
            ones = bootstrap_overall(part, np.ones((1, len(intents))))[0][0]
            assert abs(ones - np.mean(list(point.values()))) < 1e-9  # the vectorized metrics are eval's
            out[name][bucket] = (ones, resampled, point, len(intents))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=240_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory(prefix="gt-bench-") as scratch:
        for noise in args.noise:
            results[noise] = measure_noise(noise, args, Path(scratch))
    print_tables(results, args, time.perf_counter() - started)


def print_tables(results: dict, args: argparse.Namespace, seconds: float) -> None:
    print(
        f"Ground truth vs the hidden truth: long-tail world, seed {args.seed}, {args.rows:,} calls, "
        f"{args.resamples} bootstrap resamples, {seconds:.0f} s"
    )
    for noise, per_strategy in results.items():
        sizes = {bucket: per_strategy[STRATEGIES[0]][bucket][3] for bucket, _, _ in BUCKETS}
        print()
        print(f"teacher noise {noise:g}: overall (mean of the three tools' final) [95 % CI]")
        print()
        print("| strategy | " + " | ".join(f"n_calls {b} ({sizes[b]:,})" for b, _, _ in BUCKETS) + " |")
        print("|---|" + "---:|" * len(BUCKETS))
        for name in STRATEGIES:
            cells = [f"{per_strategy[name][b][0]:.3f} {interval(per_strategy[name][b][1])}" for b, _, _ in BUCKETS]
            print(f"| {name} | " + " | ".join(cells) + " |")
        print()
        print(f"teacher noise {noise:g}, all intents: final per tool")
        print()
        print("| strategy | " + " | ".join(TOOLS) + " |")
        print("|---|" + "---:|" * len(TOOLS))
        for name in STRATEGIES:
            point = per_strategy[name]["all"][2]
            print(f"| {name} | " + " | ".join(f"{point[tool]:.3f}" for tool in TOOLS) + " |")


if __name__ == "__main__":
    main()
