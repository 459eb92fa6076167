"""The fixed cost of `databuild snapshot`: the whole command on 1,000 rows, fresh store each run (issue 24: <= 1.0 s).

    python bench/snapshot_fixed_cost.py --runs 7

The 1,000-row file (`databuild simulate --rows 1000 --intents 150`) is written once to bench/out/. Each run is a
fresh `python -m databuild snapshot --format json` process in a new store, as a newcomer or a CI job runs it; the
table gives every run's wall and CPU seconds and peak RSS, then the median, with the load average around them.
Python's bytecode is cached as an installed package has it (PYTHONDONTWRITEBYTECODE is unset for the runs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "bench" / "out" / "logs_1000_small.parquet"


def small_file() -> Path:
    if not SMALL.exists():
        SMALL.parent.mkdir(parents=True, exist_ok=True)
        partial = SMALL.with_suffix(".tmp.parquet")
        command = [sys.executable, "-m", "databuild", "simulate", "--out", str(partial), "--rows", "1000"]
        subprocess.run([*command, "--intents", "150"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial.replace(SMALL)
    return SMALL


def one_run(logs: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one snapshot command in a fresh store."""
    store = Path(tempfile.mkdtemp(prefix="bench-fixed-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(logs), "--store", str(store)]
    try:
        start = time.perf_counter()
        proc = subprocess.Popen([*command, "--format", "json"], stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("the snapshot failed")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    logs = small_file()
    one_run(logs)  # warm-up: bytecode written, files in the page cache
    load = os.getloadavg()[0]
    runs = [one_run(logs) for _ in range(args.runs)]
    print(f"`databuild snapshot` of {logs.name} (1,000 rows), {args.runs} runs after one warm-up; "
          f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after\n")  # fmt: skip
    print("| run | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|")
    for number, (wall, cpu, rss) in enumerate(runs, start=1):
        print(f"| {number} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    print(f"| **median** | **{statistics.median(walls):.2f}** | **{statistics.median(cpus):.2f}** | |")


if __name__ == "__main__":
    main()
