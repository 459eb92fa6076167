"""What a tool pack change or a SQL model change costs a store of daily files.

    python bench/snapshot_pack_change.py --days 30 --rows-per-day 1000000

- base: `databuild snapshot --tools pack.json` over days 1..N in a fresh store (pack.json: the colour pack as a file);
- again: the same build on that store (every file from the cache: the cost of a build that changes nothing);
- pack change: the same store, with the pack plus one enum value (a new `filter` look that no log uses), which
  changes the pack's sha256 and so every file's cache key: the files are all read again;
- merge model changed: the same build by a copy of this checkout whose `sql/45_intent_stats.sql` has one more
  comment line (a new sha256, the same selection), with another --seed (another split, so that a version is
  written, as the builds before write one): every file's state and context from the cache, the merge run for
  every intent;
- context model changed: the same again with a third seed, the copy's `sql/41_first_pairs.sql` changed too: every
  file's context computed again from the cached file states (these days repeat no event of an earlier day, so no
  file is read again for its quarantine records).
Each run is a fresh process (wall seconds, peak RSS); the daily files are those of bench/snapshot_incremental.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot import timed  # noqa: E402
from snapshot_incremental import DAILY, Run, daily_logs, snapshot  # noqa: E402

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


def code_with_changed_models(folder: Path, models: list[str]) -> Path:
    """A copy of this checkout's tracked files in which each of `models` (`sql/<name>.sql`) has one more comment."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    for model in models:
        path = folder / "sql" / f"{model}.sql"
        path.write_text(path.read_text(encoding="utf-8") + "-- changed by bench/snapshot_pack_change.py\n")
    return folder


def snapshot_by(code: Path, store: Path, logs: list[Path], *extra: str) -> Run:
    """`snapshot` run by the code of another checkout (`-P`: not this one's, from the working directory)."""
    command = [sys.executable, "-P", "-m", "databuild", "snapshot", "--store", str(store), "--format", "json", *extra]
    command += [a for path in logs for a in ("--logs", str(path))]
    wall, rss, stdout = timed(command, code)
    return wall, rss, json.loads(stdout)


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
        merge_code = code_with_changed_models(folder / "merge-changed", ["45_intent_stats"])
        merge = snapshot_by(merge_code, store, paths, "--tools", str(after), "--seed", "1")
        context_code = code_with_changed_models(folder / "context-changed", ["45_intent_stats", "41_first_pairs"])
        context = snapshot_by(context_code, store, paths, "--tools", str(after), "--seed", "2")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    print(f"{args.days} daily files of {args.rows_per_day:,} rows; {os.cpu_count()} cores; load {load[0]:.1f}\n")
    print("| build | seconds | peak RSS | files read / reused |\n|---|---:|---:|---:|")
    for name, (wall, rss, report) in (
        ("base (fresh store)", base),
        ("the same build again (nothing changed)", again),
        ("one enum value added to the pack", changed),
        ("a merge model changed (`45_intent_stats`)", merge),
        ("a context model changed too (`41_first_pairs`)", context),
    ):
        reuse = report["reuse"]
        print(f"| {name} | {wall:.1f} | {rss:.0f} MB | {reuse['files_read']} / {reuse['files_reused']} |")
    print(
        f"\npack change / base build: {changed[0] / base[0]:.2f}x; merge model change: {merge[0] / base[0]:.2f}x; "
        f"context model change: {context[0] / base[0]:.2f}x"
    )
    written = [not report["unchanged"] for _, _, report in (base, changed, merge, context)]
    print(f"every build but the same one again wrote a version: {all(written)}")


if __name__ == "__main__":
    main()
