"""What a tool pack costs the snapshot: the colour pack before and after packs, and a wide pack of 10 tools.

    python bench/snapshot_packs.py --rows 10000000 --baseline /path/to/checkout-before-packs

- colour (before): `databuild snapshot` of a checkout from before tool packs (`--baseline`, run with its code first on
  PYTHONPATH and this virtualenv), on the simulated colour logs of `bench/snapshot.py`.
- colour (packs): this checkout on the same file.
- wide pack: this checkout with `--tools` a generated pack of 10 tools x 20 parameters (19 numbers, one enum) on
  logs of the same size and shape (a chain-of-thought per row, 1-4 candidate outputs per intent and tool, Zipf
  intents), generated here.
Runs alternate (colour before, colour packs, wide) `--repeats` times; the table gives medians. Data is cached under
bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from snapshot import logs, timed  # noqa: E402

WIDE_TOOLS, WIDE_PARAMS = 10, 20
MODES = ["none", "soft", "medium", "hard", "max"]


def wide_pack(path: Path) -> Path:
    tools = []
    for t in range(WIDE_TOOLS):
        properties: dict[str, object] = {f"p{k}": {"type": "number", "minimum": -100, "maximum": 100}
                                         for k in range(WIDE_PARAMS - 1)}  # fmt: skip
        properties["mode"] = {"type": "string", "enum": MODES, "default": "none"}
        parameters = {"type": "object", "additionalProperties": False, "properties": properties}
        function = {"name": f"tool_{t}", "description": f"Tool {t}.", "parameters": parameters, "x-quality": "cosine"}
        tools.append({"type": "function", "function": function})
    path.write_text(json.dumps({"name": "wide", "tools": tools}), encoding="utf-8")
    return path


def wide_logs(rows: int, intents: int, seed: int = 1) -> Path:
    path = OUT / f"wide_logs_{rows}_{intents}.parquet"
    if path.exists():
        return path
    print(f"generating {rows:,} wide-pack rows …", file=sys.stderr)
    rng = np.random.default_rng(seed)
    n_requests = max(1, rows // WIDE_TOOLS)
    n_candidates = rng.integers(1, 5, (intents, WIDE_TOOLS))
    texts = []
    for i in range(intents):
        for t in range(WIDE_TOOLS):
            for _ in range(n_candidates[i, t]):
                keys = rng.choice(WIDE_PARAMS - 1, rng.integers(0, 6), replace=False)
                obj = {f"p{k}": int(rng.integers(-100, 101)) for k in sorted(keys)}
                if rng.random() < 0.5:
                    obj["mode"] = MODES[int(rng.integers(1, len(MODES)))]
                texts.append(json.dumps(obj))
    offsets = (np.cumsum(n_candidates.ravel()) - n_candidates.ravel()).reshape(intents, WIDE_TOOLS)
    popularity = 1.0 / np.arange(1, intents + 1) ** 1.1
    request_intent = rng.choice(intents, size=n_requests, p=popularity / popularity.sum())
    exported = rng.random(n_requests) < 0.35
    row_request = np.repeat(np.arange(n_requests), WIDE_TOOLS)
    row_tool = np.tile(np.arange(WIDE_TOOLS), n_requests)
    row_intent = request_intent[row_request]
    choice = (rng.random(row_request.size) * n_candidates[row_intent, row_tool]).astype(np.int64)
    frame = pl.DataFrame(
        {
            "row": np.arange(row_request.size),
            "request": row_request,
            "tool": pl.Series([f"tool_{t}" for t in range(WIDE_TOOLS)]).gather(row_tool),
            "intent": pl.Series([f"wide intent {i}" for i in range(intents)]).gather(row_intent),
            "json": pl.Series(texts).gather(offsets[row_intent, row_tool] + choice),
            "noise": rng.integers(0, 1_000_000, row_request.size),
            "exported": exported[row_request],
        }
    )
    records = frame.select(
        pl.concat_str([pl.lit("evt-"), pl.col("row").cast(pl.String)]).alias("event_id"),
        pl.concat_str([pl.lit("req-"), pl.col("request").cast(pl.String)]).alias("request_id"),
        pl.lit("2024-03-01T10:00:00Z").alias("ts"),
        pl.col("intent"),
        pl.col("tool"),
        pl.concat_str(
            [
                pl.col("tool").str.to_uppercase(),
                pl.lit(": thinking about "),
                pl.col("intent"),
                pl.lit(", weighing "),
                pl.col("noise").cast(pl.String),
                pl.lit(" options of tone, light and mood, I settle on these values. JSON: "),
                pl.col("json"),
            ]
        ).alias("response"),  # fmt: skip
        pl.col("exported"),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    records.write_parquet(tmp)
    tmp.replace(path)
    return path


def snapshot_seconds(code_root: Path, logs_path: Path, memory_limit: str, tools: Path | None = None) -> float:
    store = Path(tempfile.mkdtemp(prefix="bench-store-"))
    command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(logs_path), "--store", str(store),
               "--memory-limit", memory_limit, "--format", "json"]  # fmt: skip
    if tools is not None:
        command += ["--tools", str(tools)]
    try:
        wall, _, _ = timed(command, code_root)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--intents", type=int, default=50_000)
    parser.add_argument("--baseline", type=Path, help="a checkout from before tool packs (omit: no before column)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default="800MB")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    colour = logs(args.rows, args.intents)
    wide = wide_logs(args.rows, args.intents)
    pack = wide_pack(OUT / "wide_pack.json")
    times: dict[str, list[float]] = {"before": [], "colour": [], "wide": []}
    for _ in range(args.repeats):
        if args.baseline:
            times["before"].append(snapshot_seconds(args.baseline, colour, args.memory_limit))
        times["colour"].append(snapshot_seconds(ROOT, colour, args.memory_limit))
        times["wide"].append(snapshot_seconds(ROOT, wide, args.memory_limit, pack))
    median = {key: statistics.median(values) for key, values in times.items() if values}
    lines = [
        f"Tool-pack cost: {args.rows:,} rows, {os.cpu_count()} cores, DuckDB memory limit {args.memory_limit}, "
        f"median of {args.repeats}",
        "",
        "| snapshot | seconds | ratio | target | met |",
        "|---|---:|---:|---:|:-:|",
    ]
    if "before" in median:
        ratio = median["colour"] / median["before"]
        lines.append(f"| colour pack, before packs | {median['before']:.1f} | 1.00 | | |")
        lines.append(f"| colour pack, with packs | {median['colour']:.1f} | {ratio:.2f} | <= 1.05 | "
                     f"{'yes' if ratio <= 1.05 else 'NO'} |")  # fmt: skip
    else:
        lines.append(f"| colour pack, with packs | {median['colour']:.1f} | 1.00 | | |")
    wide_ratio = median["wide"] / median["colour"]
    lines.append(
        f"| wide pack ({WIDE_TOOLS} tools x {WIDE_PARAMS} parameters) | {median['wide']:.1f} | {wide_ratio:.2f} "
        f"(vs colour with packs) | <= 1.5 | {'yes' if wide_ratio <= 1.5 else 'NO'} |"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
