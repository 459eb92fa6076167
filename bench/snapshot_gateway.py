"""Time `databuild snapshot` on gateway logs against the same traffic in databuild's own format (fresh process each).

    python bench/snapshot_gateway.py --requests 1000000

`databuild simulate` writes the same simulated traffic twice: as `openai` JSON Lines (one chat completion per user
request, every line offering the three colour tools, the outcomes in `<stem>.outcomes.jsonl`) and in databuild's
format (one record per tool call: 3 records per request). Each is built at the defaults (no --memory-limit), the
openai file with `--outcomes`. Prints a markdown table: the files' sizes, the time to write them, the snapshot's
wall and CPU seconds (best of --repeat) and peak RSS, and the ratio of the gateway build to the databuild build
(target: <= 1.5x the time, <= 1.5 GB peak RSS). Data is cached under --out-dir.
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


def timed(command: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, the error line or '') of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    failed = ""
    if os.waitstatus_to_exitcode(status) != 0:
        failed = next((line for line in stderr.splitlines() if line.startswith("Error:")), stderr[-300:] or "failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, failed


def simulated(out_dir: Path, requests: int, intents: int, log_format: str) -> tuple[Path, float | None]:
    """The simulated file of `log_format` (written once, then cached) and the seconds its writing took."""
    path = out_dir / f"traffic_{requests}_{intents}_{log_format}.jsonl"
    if path.exists():
        return path, None
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"simulating {requests:,} requests as {log_format} …", file=sys.stderr)
    command = [sys.executable, "-m", "databuild", "simulate", "--out", str(path), "--rows", str(requests * 3)]
    wall, _, _, failed = timed([*command, "--intents", str(intents), "--log-format", log_format])
    if failed:
        raise SystemExit(f"simulate failed: {failed}")
    return path, wall


def best_build(path: Path, extra: list[str], repeat: int) -> tuple[float, float, float, str]:
    best = (float("inf"), 0.0, 0.0, "")
    for _ in range(repeat):
        store = Path(tempfile.mkdtemp(prefix="bench-gateway-store-"))
        try:
            command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(path), "--store", str(store)]
            best = min(best, timed([*command, *extra]))
        finally:
            shutil.rmtree(store, ignore_errors=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000, help="user requests (openai completions)")
    parser.add_argument("--intents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1, help="builds per format; the best is reported")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--memory-limit", default=None, help="snapshot's --memory-limit (default: its default)")
    args = parser.parse_args()
    limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    print(
        "| input | lines | size MB | written in s | snapshot s (best) | CPU s | peak RSS MB | time vs databuild |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    reference = None
    for log_format in ("databuild", "openai"):
        path, written = simulated(args.out_dir, args.requests, args.intents, log_format)
        extra = [] if log_format == "databuild" else ["--outcomes", str(path.with_name(f"{path.stem}.outcomes.jsonl"))]
        wall, cpu, rss, failed = best_build(path, [*extra, *limit], args.repeat)
        reference = reference or wall
        with path.open("rb") as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        size = path.stat().st_size / 1e6
        written_text = "cached" if written is None else f"{written:.1f}"
        print(
            f"| {log_format} | {lines:,} | {size:,.0f} | {written_text} | {wall:.1f} | {cpu:.1f} | {rss:,.0f} | "
            f"{wall / reference:.2f}x |" + (f" failed after {wall:.0f} s: {failed}" if failed else "")
        )


if __name__ == "__main__":
    main()
