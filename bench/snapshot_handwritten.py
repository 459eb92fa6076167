"""`databuild snapshot` next to a hand-written DuckDB script of the same selection and the floor, on the same files.

    python bench/snapshot_handwritten.py --days 10 --rows-per-day 1000000

The script is `bench/snapshot_handwritten.sql`: first occurrence per event id, the JSON after the marker hashed,
parsed once per distinct text and re-serialized, the highest export rate per intent and tool with the same
tie-breaks, distinct requests per intent; no quarantine, no accounting, no version. Each run is a fresh process
(wall seconds, peak RSS), on the daily Parquet files of bench/snapshot_incremental.py. With --repeat N the snapshot
and the script run N times, alternating, and the ratio is the median of the N pairs' (the machine's speed drifts
by 10-20 % within minutes; a pair shares its minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot_incremental import DAILY, daily_logs, snapshot, timed  # noqa: E402
from snapshot_scaling import FLOOR_FILES  # noqa: E402

SCRIPT = Path(__file__).resolve().parent / "snapshot_handwritten.sql"
RUN_SCRIPT = """
import duckdb, sys
con = duckdb.connect(config={"preserve_insertion_order": False})
con.execute("SET enable_progress_bar = false")
con.execute("SET VARIABLE files = $files", {"files": sys.argv[2:]})
con.execute(open(sys.argv[1]).read())
print(con.execute("SELECT count(*) FROM picked").fetchone()[0])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="alternating (snapshot, script) pairs")
    args = parser.parse_args()
    paths = daily_logs(args.days, args.rows_per_day)
    pairs = []
    for _ in range(args.repeat):
        store = Path(tempfile.mkdtemp(prefix="bench-hand-", dir=DAILY.parent))
        try:
            snap_wall, snap_rss, report = snapshot(store, paths)
        finally:
            shutil.rmtree(store, ignore_errors=True)
        hand_wall, hand_rss, picked = timed([sys.executable, "-c", RUN_SCRIPT, str(SCRIPT), *map(str, paths)])
        pairs.append((snap_wall, snap_rss, hand_wall, hand_rss))
    floor_wall, floor_rss, _ = timed([sys.executable, "-c", FLOOR_FILES, *map(str, paths)])
    rows = args.days * args.rows_per_day
    load = os.getloadavg()
    print(f"{rows:,} rows in {args.days} Parquet files; {os.cpu_count()} cores, load average {load[0]:.1f}\n")
    print("| run | seconds | peak RSS | / floor |\n|---|---:|---:|---:|")
    print(f"| floor: one DuckDB pass reading rows + checking JSON | {floor_wall:.1f} | {floor_rss:.0f} MB | 1.00x |")
    kept = report["intents"]["kept"]
    for number, (snap_wall, snap_rss, hand_wall, hand_rss) in enumerate(pairs, start=1):
        pair = f" (pair {number})" if len(pairs) > 1 else ""
        print(
            f"| hand-written DuckDB script ({int(picked.split()[-1])} picks){pair} | {hand_wall:.1f} | "
            f"{hand_rss:.0f} MB | {hand_wall / floor_wall:.2f}x |"
        )
        print(
            f"| `databuild snapshot`, defaults ({kept} intents kept){pair} | {snap_wall:.1f} | {snap_rss:.0f} MB | "
            f"{snap_wall / floor_wall:.2f}x |"
        )
    ratios = [snap / hand for snap, _, hand, _ in pairs]
    spread = f" (pairs: {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    print(f"\nsnapshot / hand-written script: {statistics.median(ratios):.2f}x{spread}")


if __name__ == "__main__":
    main()
