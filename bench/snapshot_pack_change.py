"""What a tool pack change costs a store of daily files: every cache entry is keyed by the pack, so it is a full build.

    python bench/snapshot_pack_change.py --days 30 --rows-per-day 1000000

- base: `databuild snapshot --tools pack.json` over days 1..N in a fresh store (pack.json: the colour pack as a file);
- again: the same build on that store (every file from the cache: the cost of a build that changes nothing);
- pack change: the same store, with the pack plus one enum value (a new `filter` look that no log uses), which
  changes the pack's sha256 and so every file's cache key: the files are all read again.
Each run is a fresh process (wall seconds, peak RSS); the daily files are those of bench/snapshot_incremental.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot_incremental import DAILY, daily_logs, snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COLOUR = ROOT / "databuild" / "packs" / "colour" / "tools.json"


def packs(folder: Path) -> tuple[Path, Path]:
    """The colour pack as a file, and the same pack with one more enum value."""
    pack = json.loads(COLOUR.read_text(encoding="utf-8"))
    before = folder / "pack.json"
    before.write_text(json.dumps(pack), encoding="utf-8")
    for tool in pack["tools"]:
        for spec in tool["function"]["parameters"]["properties"].values():
            if "enum" in spec:
                spec["enum"].append("bench_new_look")
                after = folder / "pack_plus_one_value.json"
                after.write_text(json.dumps(pack), encoding="utf-8")
                return before, after
    raise SystemExit("the colour pack has no enum to extend")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    args = parser.parse_args()
    paths = daily_logs(args.days, args.rows_per_day)
    folder = Path(tempfile.mkdtemp(prefix="bench-pack-change-", dir=DAILY.parent))
    try:
        before, after = packs(folder)
        store = folder / "store"
        base = snapshot(store, paths, "--tools", str(before))
        again = snapshot(store, paths, "--tools", str(before))
        changed = snapshot(store, paths, "--tools", str(after))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    print(f"{args.days} daily files of {args.rows_per_day:,} rows; {os.cpu_count()} cores; load {load[0]:.1f}\n")
    print("| build | seconds | peak RSS | files read / reused |\n|---|---:|---:|---:|")
    for name, (wall, rss, report) in (
        ("base (fresh store)", base),
        ("the same build again (nothing changed)", again),
        ("one enum value added to the pack", changed),
    ):
        reuse = report["reuse"]
        print(f"| {name} | {wall:.1f} | {rss:.0f} MB | {reuse['files_read']} / {reuse['files_reused']} |")
    print(f"\npack change / base build: {changed[0] / base[0]:.2f}x")


if __name__ == "__main__":
    main()
