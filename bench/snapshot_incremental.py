"""Benchmark the incremental snapshot: a store built from N daily files, then one more day.

    python bench/snapshot_incremental.py --days 30 --rows-per-day 1000000

- base: `databuild snapshot` over days 1..N-1 in a fresh store (every file read; the per-file cache is written).
- yesterday: days 1..N on a hard-linked copy of the base store, as the store's daily build of day N left it (a
  copy's tables are new to the memo of checked tables: this build checks them all, and is reported, not compared).
- incremental: the same copy, days 1..N+1: only day N+1 is read, the others come from the cache; only day N's
  entries are new to the memo, as in a store built day after day.
- one day alone: a fresh snapshot of day N+1 only, in another store. Target: incremental <= 1.5x this.
- full rebuild: days 1..N+1 with --full in a third store; its fingerprint must equal the incremental build's.
Each run is a fresh `python -m databuild` process of this checkout (wall time, peak RSS). The daily Parquet files
are simulated once (seed = day, 5,000 intents a day) and kept in bench/out/daily/ (git-ignored).
With --repeat K, yesterday, the increment and the day alone run K times, alternating, each on a hard-linked copy of
the base store (a build replaces a store's files by renames, never writes into them) and each day alone in a fresh
store; every pair is printed and the verdict takes the median of the pairs' ratios (one pair's ratio moves by
about ±0.1 on this 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAILY = ROOT / "bench" / "out" / "daily"
sys.path.insert(0, str(ROOT / "bench"))

from snapshot import timed  # noqa: E402  (one way to time a child process, in bench/snapshot.py)


def daily_logs(days: int, rows_per_day: int) -> list[Path]:
    """Days 1..`days` as Parquet files of `rows_per_day` simulated rows each (made once, then reused)."""
    sys.path.insert(0, str(ROOT))
    from databuild.packs.colour.simulate import SimulationOptions, write_logs

    DAILY.mkdir(parents=True, exist_ok=True)
    paths = []
    for day in range(1, days + 1):
        path = DAILY / f"day{day:03d}_{rows_per_day}.parquet"
        if not path.exists():
            print(f"simulating day {day} ({rows_per_day:,} rows) …", file=sys.stderr)
            start = f"2024-01-{day:02d}T00:00:00Z" if day <= 31 else f"2024-02-{day - 31:02d}T00:00:00Z"
            options = SimulationOptions(rows=rows_per_day, intents=5_000, seed=day, start=start, days=1)
            partial = path.with_suffix(".tmp.parquet")
            write_logs(options, partial)
            partial.replace(path)
        paths.append(path)
    return paths


Run = tuple[float, float, dict]  # wall seconds, peak RSS MB, report


def snapshot(store: Path, logs: list[Path], *extra: str) -> Run:
    """(wall, peak RSS MB, report) of one `databuild snapshot` process with default options."""
    command = [sys.executable, "-m", "databuild", "snapshot", "--store", str(store), "--format", "json", *extra]
    command += [a for path in logs for a in ("--logs", str(path))]
    wall, rss, stdout = timed(command)
    return wall, rss, json.loads(stdout)


Timing = tuple[float, float]  # wall seconds, peak RSS MB


@dataclass(frozen=True)
class Measured:
    base: Timing
    yesterdays: list[Timing]  # day N on each copy of the base store (every table checked)
    pairs: list[tuple[Timing, Timing]]  # (increment, day alone), in the order they ran
    full: Timing
    reuse: dict[str, int]  # the first increment's
    same_fingerprint: bool  # every increment's equals the full rebuild's
    cache_bytes: int
    rows: int


def measure(days: int, rows_per_day: int, repeat: int = 1) -> Measured:
    paths = daily_logs(days + 1, rows_per_day)
    stores = [Path(tempfile.mkdtemp(prefix="bench-inc-", dir=DAILY.parent)) for _ in range(2)]
    try:
        base = snapshot(stores[0], paths[: days - 1])
        runs = [(increment_on_a_copy(stores[0], paths), day_alone(paths[-1:])) for _ in range(repeat)]
        full = snapshot(stores[1], paths, "--full")
    finally:
        for store in stores:
            shutil.rmtree(store, ignore_errors=True)
    pairs = [(inc, alone) for (_, inc, _), alone in runs]
    cache_bytes = runs[0][0][2]
    incremental = pairs[0][0]
    return Measured(
        base=base[:2],
        yesterdays=[yesterday[:2] for (yesterday, _, _), _ in runs],
        pairs=[(inc[:2], alone[:2]) for inc, alone in pairs],
        full=full[:2],
        reuse=incremental[2]["reuse"],
        same_fingerprint=all(inc[2]["fingerprint"] == full[2]["fingerprint"] for inc, _ in pairs),
        cache_bytes=cache_bytes,
        rows=incremental[2]["accounting"]["input_rows"],
    )


def increment_on_a_copy(base: Path, logs: list[Path]) -> tuple[Run, Run, int]:
    """(yesterday's build of all but the last file, the increment of the last one, the cache's bytes before it) on
    a hard-linked copy of the base store."""
    copy = Path(tempfile.mkdtemp(prefix="bench-inc-", dir=DAILY.parent))
    try:
        shutil.copytree(base, copy, symlinks=True, dirs_exist_ok=True, copy_function=os.link)
        yesterday = snapshot(copy, logs[:-1])
        cache_bytes = sum(p.stat().st_size for p in (copy / "cache" / "snapshot").rglob("*") if p.is_file())
        return yesterday, snapshot(copy, logs), cache_bytes
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def day_alone(logs: list[Path]) -> Run:
    store = Path(tempfile.mkdtemp(prefix="bench-inc-", dir=DAILY.parent))
    try:
        return snapshot(store, logs)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of (increment, day alone), alternating")
    args = parser.parse_args()
    result = measure(args.days, args.rows_per_day, args.repeat)
    ratios = [inc[0] / alone[0] for inc, alone in result.pairs]
    ratio = statistics.median(ratios)
    per_million = result.cache_bytes / (result.rows / 1e6) / 1e6
    load = os.getloadavg()
    print(
        f"Incremental snapshot: {args.days} daily files of {args.rows_per_day:,} rows, then one more; "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end\n"
    )
    print("| run | seconds | peak RSS |\n|---|---:|---:|")
    print(f"| base: days 1..{args.days - 1}, fresh store | {result.base[0]:.1f} | {result.base[1]:.0f} MB |")
    for number, ((inc, alone), yesterday) in enumerate(zip(result.pairs, result.yesterdays, strict=True), start=1):
        run = f", run {number}" if len(result.pairs) > 1 else ""
        print(f"| yesterday: days 1..{args.days} on a copy of the base (every table checked){run} | "
              f"{yesterday[0]:.1f} | {yesterday[1]:.0f} MB |")  # fmt: skip
        print(f"| incremental: days 1..{args.days + 1} (reads day {args.days + 1} only){run} | {inc[0]:.1f} | "
              f"{inc[1]:.0f} MB |")  # fmt: skip
        print(f"| day {args.days + 1} alone, fresh store{run} | {alone[0]:.1f} | {alone[1]:.0f} MB |")
    print(f"| full rebuild of days 1..{args.days + 1} (--full, fresh store) | {result.full[0]:.1f} | "
          f"{result.full[1]:.0f} MB |")  # fmt: skip
    each = f" (the median of {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    print(
        f"\nincremental / one day alone: {ratio:.2f}x{each} (target <= 1.5x: {'yes' if ratio <= 1.5 else 'NO'}); "
        f"fingerprint equals the full rebuild's: {'yes' if result.same_fingerprint else 'NO'}; "
        f"reuse {result.reuse}; cache {result.cache_bytes / 1e6:.0f} MB = {per_million:.1f} MB per million rows"
    )


if __name__ == "__main__":
    main()
