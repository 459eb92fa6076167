"""Time `databuild snapshot` on JSON Lines and Parquet inputs of the same simulated logs (fresh process each).

    python bench/snapshot_inputs.py --rows 1000000

JSON Lines inputs are streamed in bounded batches: peak RSS should not grow with the file. Prints a markdown
table (wall and CPU seconds of the best run, peak RSS, per format); data is cached under bench/out/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def timed(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process (CPU time is steadier on a shared machine)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{(proc.stderr.read() if proc.stderr else '')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def logs(rows: int, intents: int, suffix: str) -> Path:
    path = OUT / f"logs_{rows}_{intents}{suffix}"
    if not path.exists():
        print(f"simulating {rows:,} rows as {suffix} …", file=sys.stderr)
        sys.path.insert(0, str(ROOT))
        from pipelines.simulate import SimulationOptions, write_logs

        OUT.mkdir(parents=True, exist_ok=True)
        write_logs(SimulationOptions(rows=rows, intents=intents), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--intents", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="800MB")
    parser.add_argument("--repeat", type=int, default=2, help="runs per format; the best is reported")
    args = parser.parse_args()
    print("| input | size MB | snapshot s (best) | CPU s | peak RSS MB |\n|---|---:|---:|---:|---:|")
    for suffix in (".jsonl", ".jsonl.gz", ".parquet"):
        path = logs(args.rows, args.intents, suffix)
        best = (float("inf"), 0.0, 0.0)
        for _ in range(args.repeat):
            store = Path(tempfile.mkdtemp(prefix="bench-store-"))
            try:
                command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(path), "--store", str(store)]
                best = min(best, timed([*command, "--memory-limit", args.memory_limit]))
            finally:
                shutil.rmtree(store, ignore_errors=True)
        size = path.stat().st_size / 1e6
        print(f"| {suffix[1:]} ({args.rows:,} rows) | {size:.0f} | {best[0]:.2f} | {best[1]:.1f} | {best[2]:.0f} |")


if __name__ == "__main__":
    main()
