"""Benchmark the incremental snapshot: a store built from N daily files, then one more day.

    python bench/snapshot_incremental.py --days 30 --rows-per-day 1000000

- base: `databuild snapshot` over days 1..N in a fresh store (every file read; the per-file cache is written).
- incremental: the same store, days 1..N+1: only day N+1 is read, the others come from the cache.
- one day alone: a fresh snapshot of day N+1 only, in another store. Target: incremental <= 1.5x this.
- full rebuild: days 1..N+1 with --full in a third store; its fingerprint must equal the incremental build's.
Each run is a fresh `python -m databuild` process of this checkout (wall time, peak RSS). The daily Parquet files
are simulated once (seed = day, 5,000 intents a day) and kept in bench/out/daily/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
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


def snapshot(store: Path, logs: list[Path], *extra: str) -> tuple[float, float, dict]:
    """(wall, peak RSS MB, report) of one `databuild snapshot` process with default options."""
    command = [sys.executable, "-m", "databuild", "snapshot", "--store", str(store), "--format", "json", *extra]
    command += [a for path in logs for a in ("--logs", str(path))]
    wall, rss, stdout = timed(command)
    return wall, rss, json.loads(stdout)


def measure(days: int, rows_per_day: int) -> dict[str, object]:
    paths = daily_logs(days + 1, rows_per_day)
    stores = [Path(tempfile.mkdtemp(prefix="bench-inc-", dir=DAILY.parent)) for _ in range(3)]
    try:
        base = snapshot(stores[0], paths[:days])
        incremental = snapshot(stores[0], paths)
        alone = snapshot(stores[1], paths[-1:])
        full = snapshot(stores[2], paths, "--full")
        cache_bytes = sum(p.stat().st_size for p in (stores[0] / "cache" / "snapshot").rglob("*") if p.is_file())
    finally:
        for store in stores:
            shutil.rmtree(store, ignore_errors=True)
    return {
        "base": base[:2],
        "incremental": incremental[:2],
        "alone": alone[:2],
        "full": full[:2],
        "reuse": incremental[2]["reuse"],
        "same_fingerprint": incremental[2]["fingerprint"] == full[2]["fingerprint"],
        "cache_bytes": cache_bytes,
        "rows": incremental[2]["accounting"]["input_rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    args = parser.parse_args()
    result = measure(args.days, args.rows_per_day)
    base, incremental, alone, full = (result[k] for k in ("base", "incremental", "alone", "full"))
    ratio = incremental[0] / alone[0]  # type: ignore[index]
    per_million = result["cache_bytes"] / (result["rows"] / 1e6) / 1e6  # type: ignore[operator]
    load = os.getloadavg()
    print(
        f"Incremental snapshot: {args.days} daily files of {args.rows_per_day:,} rows, then one more; "
        f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end\n"
    )
    print("| run | seconds | peak RSS |\n|---|---:|---:|")
    for name, (wall, rss) in (
        (f"base: days 1..{args.days}, fresh store", base),
        (f"incremental: days 1..{args.days + 1} (reads day {args.days + 1} only)", incremental),
        (f"day {args.days + 1} alone, fresh store", alone),
        (f"full rebuild of days 1..{args.days + 1} (--full, fresh store)", full),
    ):
        print(f"| {name} | {wall:.1f} | {rss:.0f} MB |")
    print(
        f"\nincremental / one day alone: {ratio:.2f}x (target <= 1.5x: {'yes' if ratio <= 1.5 else 'NO'}); "
        f"fingerprint equals the full rebuild's: {'yes' if result['same_fingerprint'] else 'NO'}; "
        f"reuse {result['reuse']}; cache {result['cache_bytes'] / 1e6:.0f} MB = {per_million:.1f} MB per million rows"
    )


if __name__ == "__main__":
    main()
