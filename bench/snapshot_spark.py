"""Benchmark `databuild snapshot --executor spark`: Spark's own overhead here, the per-file task, and on paper
what 16 or 64 workers would give next to the single-machine merge.

    python bench/snapshot_spark.py --days 10 --rows-per-day 1000000 --master 'local[2]'

- local: `databuild snapshot` over the days in a fresh store (this process reads every file, in batches).
- spark: the same with `--executor spark --spark-master MASTER` in another fresh store (one task per file; the
  entries come back to the driver, which merges); its fingerprint must equal the local build's.
- merge alone: the spark store again, its context and result entries removed and another --seed, so every file's
  state comes from the cache and only the merge (models 32-80) and the version's write run; at half the days and
  at all of them, for its cost per file.
Each run is a fresh `python -m databuild` process of this checkout (wall time). The paper estimate for W workers
takes the measured mean task time per file and the merge's measured cost (fixed + per file):
map = ceil(files / W) x task, then the merge of every file's state on the driver.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from snapshot_incremental import DAILY, daily_logs, snapshot  # noqa: E402  (the same daily files and runner)


def merge_alone(store: Path, logs: list[Path], seed: str) -> float:
    """Wall of a build whose files are all cached: contexts and results removed, a new --seed."""
    for kind in ("contexts", "results"):
        shutil.rmtree(store / "cache" / "snapshot" / kind, ignore_errors=True)
    wall, _, report = snapshot(store, logs, "--seed", seed)
    assert report["reuse"]["files_read"] == 0, report["reuse"]
    return wall


def measure(days: int, rows_per_day: int, master: str) -> dict[str, object]:
    paths = daily_logs(days, rows_per_day)
    stores = [Path(tempfile.mkdtemp(prefix="bench-spark-", dir=DAILY.parent)) for _ in range(3)]
    try:
        local = snapshot(stores[0], paths)
        spark = snapshot(stores[1], paths, "--executor", "spark", "--spark-master", master)
        half = days // 2
        snapshot(stores[2], paths[:half])
        merges = {half: merge_alone(stores[2], paths[:half], "11"), days: merge_alone(stores[1], paths, "12")}
    finally:
        for store in stores:
            shutil.rmtree(store, ignore_errors=True)
    return {"local": local, "spark": spark, "merges": merges, "half": half}


def paper(files: int, workers: int, task: float, merge_fixed: float, merge_per_file: float) -> tuple[float, float]:
    """(map seconds, merge seconds) of `files` daily files on `workers` one-core task slots."""
    return math.ceil(files / workers) * task, merge_fixed + merge_per_file * files


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    before = os.getloadavg()
    result = measure(args.days, args.rows_per_day, args.master)
    after = os.getloadavg()
    (local_wall, _, local_report), (spark_wall, _, spark_report) = result["local"], result["spark"]  # type: ignore[misc]
    ran = spark_report["executor"]
    task = ran["task_seconds"]["total"] / ran["tasks"]
    merges: dict[int, float] = result["merges"]  # type: ignore[assignment]
    half, days = result["half"], args.days
    per_file = (merges[days] - merges[half]) / (days - half)  # type: ignore[operator]
    fixed = merges[days] - per_file * days
    print(
        f"Snapshot on Spark: {days} daily files of {args.rows_per_day:,} rows, master {args.master}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit().strip()}, {os.cpu_count()} cores, "
        f"load average {before[0]:.1f} before, {after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f} after "
        "(a shared machine: other engineers' jobs ran meanwhile)\n"
    )
    print("| run | seconds |\n|---|---:|")
    print(f"| local build, {days} files | {local_wall:.1f} |")
    print(f"| spark build ({args.master}), {days} files | {spark_wall:.1f} |")
    print(f"| of which the Spark part: session start, {ran['tasks']} tasks, entries back | {ran['seconds']:.1f} |")
    print(
        f"| one task (one 1-core file of {args.rows_per_day:,} rows): mean / slowest | "
        f"{task:.1f} / {ran['task_seconds']['max']:.1f} |"
    )
    print(f"| merge alone, {half} files cached | {merges[half]:.1f} |")  # type: ignore[index]
    print(f"| merge alone, {days} files cached | {merges[days]:.1f} |")
    same = spark_report["fingerprint"] == local_report["fingerprint"]
    print(
        f"\nspark / local: {spark_wall / local_wall:.2f}x; fingerprints equal: {'yes' if same else 'NO'}; "
        f"merge = {fixed:.1f} s + {per_file:.2f} s per file (a fresh process each, the version's write included)"
    )
    print("\nOn paper (one core per task, the measured task time; the merge on one machine):\n")
    print("| daily files | workers | map (tasks) s | merge s | limit |\n|---:|---:|---:|---:|---|")
    for files in (30, 365):
        for workers in (16, 64):
            mapped, merged = paper(files, workers, task, fixed, per_file)
            print(f"| {files} | {workers} | {mapped:.0f} | {merged:.0f} | {'merge' if merged > mapped else 'map'} |")
    if per_file > 0:
        print(
            f"\nThe merge is the limit from about {task / per_file:.0f} workers on, whatever the number of files "
            f"(map ≈ files/W x {task:.1f} s against merge ≈ files x {per_file:.2f} s)."
        )
    else:
        print("\nThe merge's cost per file was lost in its fixed cost at this size: run with more rows per day.")


if __name__ == "__main__":
    main()
