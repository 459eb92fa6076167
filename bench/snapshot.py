"""Benchmark `databuild snapshot` against its floor and a straightforward pandas implementation.

    python bench/snapshot.py --rows 10000000 --pandas-rows 1000000

- snapshot: the real command on N simulated rows (Parquet), in a fresh process; wall time and peak RSS.
- floor: one DuckDB pass that reads every row and parses every response's JSON (after its marker).
- hand-written: `bench/snapshot_handwritten.sql`, the same selection written by hand in one DuckDB script (no
  quarantine, no cache, no version), in a fresh process on the same file, right after the snapshot; with
  --repeat N, N such pairs alternate, and the table shows the pair of the median ratio (the machine's speed drifts
  by 10-20 % within minutes; a pair shares its minutes) and the highest peak RSS.
- pandas: `bench/pandas_baseline.py`, a straightforward pandas implementation of the same selection (per-row
  `json.loads`, JSON Schema validation and canonicalization, then groupbys), at <= --pandas-rows rows (its time
  at N rows is extrapolated linearly, and said so); the run checks that both select the same ground truth
  (`--pandas-rows 0` leaves it out).
- `databuild --help`: the CLI's start-up time (heavy imports stay inside commands).
Prints a markdown table; data is cached under bench/out/.
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

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
TOOLS = ("adjust", "selective_adjust", "filter")

FLOOR = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 2")
print(con.execute('''
    SELECT count(*), count(*) FILTER (WHERE json_valid(
        CASE WHEN strpos(response, 'JSON:') > 0 THEN substr(response, strpos(response, 'JSON:') + 5) ELSE response END))
    FROM read_parquet($f)''', {"f": sys.argv[1]}).fetchall())
"""
HANDWRITTEN = """
import duckdb, sys
con = duckdb.connect(config={"preserve_insertion_order": False})
con.execute("SET enable_progress_bar = false")
con.execute("SET VARIABLE files = $files", {"files": sys.argv[2:]})
con.execute(open(sys.argv[1]).read())
print(con.execute("SELECT count(*) FROM picked").fetchone()[0])
"""  # as bench/snapshot_handwritten.py runs it


def timed(command: list[str], code_root: Path = ROOT) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process running the code of `code_root` (default: this
    checkout)."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command[:6])} …\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024, stdout


def logs(rows: int, intents: int) -> Path:
    path = OUT / f"logs_{rows}_{intents}.parquet"
    if not path.exists():
        print(f"simulating {rows:,} rows …", file=sys.stderr)
        sys.path.insert(0, str(ROOT))
        from databuild.packs.colour.simulate import SimulationOptions, write_logs

        write_logs(SimulationOptions(rows=rows, intents=intents, seed=1), path)
    return path


def snapshot_run(path: Path, memory_limit: str | None) -> tuple[float, float, dict[str, str]]:
    """(wall, peak RSS, ground truth as {"intent\ttool": canonical}) of one `databuild snapshot` process."""
    store = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        command = [sys.executable, "-m", "databuild", "snapshot", "--logs", str(path), "--store", str(store)]
        limit = ["--memory-limit", memory_limit] if memory_limit else []  # default: set from the machine
        wall, rss, _ = timed([*command, *limit, "--format", "json"])
        sys.path.insert(0, str(ROOT))
        from databuild.contracts import load_rows
        from databuild.store import open_store

        rows = load_rows(open_store(store), "v1")
        truth = {f"{r['intent']}\t{tool}": r[tool] for r in rows.iter_rows(named=True) for tool in TOOLS}
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return wall, rss, truth


def row(what: str, value: str, target: str, ok: bool | None) -> str:
    return f"| {what} | {value} | {target} | {'' if ok is None else ('yes' if ok else 'NO')} |"


def pandas_rows(args: argparse.Namespace, small_rows: int, snap_wall: float) -> list[str]:
    """The pandas baseline at --pandas-rows rows, and the snapshot at that size (same ground truth?)."""
    small = logs(small_rows, max(1, args.intents * small_rows // args.rows))
    small_snap_wall, _, small_truth = snapshot_run(small, args.memory_limit)
    pandas_out = OUT / "pandas_truth.json"
    pandas_wall, pandas_rss, _ = timed(
        [sys.executable, str(ROOT / "bench" / "pandas_baseline.py"), str(small), str(pandas_out)]
    )
    pandas_truth = json.loads(pandas_out.read_text())
    agree = sum(small_truth.get(key) == value for key, value in pandas_truth.items())
    pandas_at_n = pandas_wall * args.rows / small_rows
    return [
        row(f"snapshot, {small_rows:,} rows", f"{small_snap_wall:.1f} s", "", None),
        row(f"pandas baseline, {small_rows:,} rows", f"{pandas_wall:.1f} s ({pandas_rss:.0f} MB)", "", None),
        row(
            "same ground truth (snapshot vs pandas)",
            f"{agree:,} / {len(pandas_truth):,} (snapshot {len(small_truth):,})",
            "all",
            agree == len(pandas_truth) == len(small_truth),
        ),
        row(f"pandas at {args.rows:,} rows (linear extrapolation)", f"{pandas_at_n:.0f} s", "", None),
        row(
            "speed-up vs pandas (same size)",
            f"{pandas_wall / small_snap_wall:.0f}x",
            ">= 20x",
            pandas_wall / small_snap_wall >= 20,
        ),
        row(
            "speed-up vs pandas (extrapolated to N)",
            f"{pandas_at_n / snap_wall:.0f}x",
            ">= 20x",
            pandas_at_n / snap_wall >= 20,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--intents", type=int, default=50_000)
    parser.add_argument("--pandas-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default=None, help="passed to the snapshot (default: its own default)")
    parser.add_argument("--repeat", type=int, default=1, help="alternating (snapshot, script) pairs; the median's")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    python = sys.executable

    big = logs(args.rows, args.intents)
    small_rows = min(args.pandas_rows, args.rows)
    pairs = []  # (snapshot, script) in the same minutes: the machine's speed drifts by 10-20 % between runs
    for _ in range(args.repeat):
        snap_wall, snap_rss, _ = snapshot_run(big, args.memory_limit)
        hand_wall, hand_rss, _ = timed(
            [python, "-c", HANDWRITTEN, str(ROOT / "bench" / "snapshot_handwritten.sql"), str(big)]
        )
        pairs.append((snap_wall, snap_rss, hand_wall, hand_rss))
    snap_wall, snap_rss, hand_wall, hand_rss = sorted(pairs, key=lambda pair: pair[0] / pair[2])[len(pairs) // 2]
    ratios = ", ".join(f"{snap / hand:.2f}" for snap, _, hand, _ in pairs)
    median = f" (the median pair of {len(pairs)}: {ratios})" if len(pairs) > 1 else ""
    snap_rss = max(rss for _, rss, _, _ in pairs)  # the peak over every run
    floor_wall, floor_rss, _ = timed([python, "-c", FLOOR, str(big)])
    lines = [
        f"Snapshot benchmark: {args.rows:,} simulated rows ({big.stat().st_size / 1e6:.0f} MB Parquet), "
        f"{os.cpu_count()} cores, DuckDB memory limit {args.memory_limit or 'the default'}, "
        f"load average {os.getloadavg()[0]:.1f}",
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|:-:|",
        row(f"snapshot, {args.rows:,} rows", f"{snap_wall:.1f} s", "", None),
        row("hand-written DuckDB script, same file", f"{hand_wall:.1f} s ({hand_rss:.0f} MB)", "", None),
        row(
            f"snapshot / hand-written script{median}",
            f"{snap_wall / hand_wall:.2f}x",
            "<= 2x",
            snap_wall <= 2 * hand_wall,
        ),
        row("floor: one DuckDB pass reading rows + parsing JSON", f"{floor_wall:.1f} s", "", None),
        row("snapshot / floor", f"{snap_wall / floor_wall:.2f}x", "", None),
        row("snapshot peak RSS", f"{snap_rss:.0f} MB", "<= 1536 MB", snap_rss <= 1536),
    ]
    if args.pandas_rows:
        lines += pandas_rows(args, small_rows, snap_wall)
    helps = [timed([python, "-m", "databuild", "--help"])[0] for _ in range(5)]
    help_wall = sorted(helps)[len(helps) // 2]
    lines.append(row("`databuild --help` (median of 5)", f"{help_wall:.2f} s", "<= 0.5 s", help_wall <= 0.5))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
