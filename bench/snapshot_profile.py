"""Where a full `databuild snapshot` spends its time, step by step, next to the hand-written script's statements.

    python bench/snapshot_profile.py --logs bench/out/logs_10000000_50000.parquet
    python bench/snapshot_profile.py --daily 10          # bench/out/daily/day001..010 (1 M rows each)
    python bench/snapshot_profile.py --daily 10 --root /tmp/old-checkout   # another checkout's code, same files
    python bench/snapshot_profile.py --daily 31 --base-store STORE   # +1 day on a copy of a 29- or 30-day store,
                                                                      # after yesterday's build (days 1..30) on it

Each side runs in a fresh process of this checkout, one after the other, on the same files:
- snapshot: `pipelines.snapshot.build_snapshot` in-process on a fresh store, default options; every SQL model is
  timed (summed over the batches of a batched build), and so are the Python steps around them (the cache entries'
  writes, the version's write and its parts, which run in threads beside it; an indented row runs in a thread
  beside the steps above and below it, and is not counted in "other"); `import` is the modules' import;
- hand-written: each statement of `bench/snapshot_handwritten.sql` (the selection without quarantine, accounting,
  cache or version), after `import duckdb`.
The column "per-file state" holds what the per-file cache adds: its models (the file_* tables, the corrections
and first pairs that the order of the files adds) and the writes of its entries. Each step also gets the process's
CPU seconds (all its threads) spent meanwhile, steadier than wall seconds on a shared machine (a step beside a
thread counts that thread's CPU too). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "snapshot_handwritten.sql"
# models that exist for the per-file state (the version's own path reads their output where it must)
PER_FILE = {
    "26_file_candidates",
    "27_file_requests",
    "28_file_events",
    "29_file_surfaces",
    "31_file_accounting",
    "32_cached_table",
    "32_no_context_cached",
    "34_corrections",
    "35_correction_rows",
    "39_cached_context",
    "41_first_pairs",
    "cache entries: files",
    "cache entries: contexts",
    "  cache entries: files (thread, beside the next batch)",
    "  cache entries: contexts (thread, beside the next batch)",
}


def entries_label(con, store, kind, *_) -> str:  # type: ignore[no-untyped-def]
    """A batch's entries are written by a thread beside the next batch (`_merge_state`); the last batch's are not."""
    if threading.current_thread() is threading.main_thread():
        return f"cache entries: {kind}"
    return f"  cache entries: {kind} (thread, beside the next batch)"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def profile_snapshot(paths: list[str]) -> dict[str, list[float]]:
    """[wall, CPU] seconds per step of one in-process full build (fresh store, default options)."""
    started = time.perf_counter()
    import pipelines.emit as emit
    import pipelines.snapshot as snapshot
    import pipelines.snapshot_quarantine as quarantine
    from databuild.store import open_store

    times: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    times["import"] = [time.perf_counter() - started, cpu()]

    def timed(name: str, function):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            start, start_cpu = time.perf_counter(), cpu()
            try:
                return function(*args, **kwargs)
            finally:
                label = name(*args) if callable(name) else name
                times[label][0] += time.perf_counter() - start
                times[label][1] += cpu() - start_cpu

        return wrapper

    snapshot.run_model = timed(lambda con, model, **_: model, snapshot.run_model)
    snapshot.write_entries = timed(entries_label, snapshot.write_entries)
    snapshot.publish_version = timed("write version (total)", snapshot.publish_version)
    snapshot._register_normalizer = timed("register the intent normalizer", snapshot._register_normalizer)
    snapshot.connect = timed("open DuckDB sessions", snapshot.connect)
    snapshot.stage_results = timed("  results entry (thread, beside the version)", snapshot.stage_results)
    snapshot._release_per_row_tables = timed("drop per-row tables", snapshot._release_per_row_tables)
    snapshot.spread_tools = timed("rows to Polars", snapshot.spread_tools)
    snapshot._intent_pool = timed("intent pool to Polars", snapshot._intent_pool)
    snapshot.resolve_inputs = timed("resolve inputs (sha256 of each file)", snapshot.resolve_inputs)
    emit.fingerprint = timed("  fingerprint", emit.fingerprint)
    emit.build_sft = timed("  SFT texts (thread, beside the fingerprint)", emit.build_sft)
    emit._save_dataset_dict = timed("  rows/ and sft/: write (save_to_disk layout)", emit._save_dataset_dict)
    emit._to_dataset_dict = timed("  rows/ and sft/: split to Arrow", emit._to_dataset_dict)
    quarantine.VersionQuarantine.write = timed(
        "  quarantine file (thread, beside datasets)", quarantine.VersionQuarantine.write
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-profile-store-"))
    if os.environ.get("BENCH_BASE_STORE"):  # an increment: the build runs on a copy of that store
        # hard links: the same inodes, so the quarantine memo still knows its version's file (a build replaces the
        # store's files by renames, never writes into them)
        shutil.copytree(
            os.environ["BENCH_BASE_STORE"], folder, symlinks=True, dirs_exist_ok=True, copy_function=os.link
        )
    options = snapshot.SnapshotOptions(logs=paths, memory_limit=os.environ.get("BENCH_MEMORY_LIMIT") or None)
    try:
        if os.environ.get("BENCH_BASE_STORE"):
            # yesterday's build (every file but the last), not timed: a link moves each file's change time, so the
            # copy's tables are new to the memo of checked tables until a build has checked them, as in a store
            # built day after day
            yesterday = snapshot.SnapshotOptions(logs=paths[:-1], memory_limit=options.memory_limit)
            snapshot.build_snapshot(open_store(folder), yesterday, "databuild snapshot")
            imported = times["import"]
            times.clear()
            times["import"] = imported
        build_start, build_cpu = time.perf_counter(), cpu()
        snapshot.build_snapshot(open_store(folder), options, "databuild snapshot")
        times["whole build (in-process, after imports)"] = [time.perf_counter() - build_start, cpu() - build_cpu]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return dict(times)


def profile_handwritten(paths: list[str]) -> dict[str, list[float]]:
    """[wall, CPU] seconds per statement of the hand-written script (as bench/snapshot_handwritten.py runs it)."""
    started = time.perf_counter()
    import duckdb

    times = {"import": [time.perf_counter() - started, cpu()]}
    build_start, build_cpu = time.perf_counter(), cpu()
    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET VARIABLE files = $files", {"files": paths})
    for statement in con.extract_statements(SCRIPT.read_text()):
        name = statement.query.split(" AS", 1)[0].split()[-1]  # CREATE OR REPLACE TEMP TABLE <name> AS
        start, start_cpu = time.perf_counter(), cpu()
        con.execute(statement.query)
        times[f"hand: {name}"] = [time.perf_counter() - start, cpu() - start_cpu]
    times["whole build (in-process, after imports)"] = [time.perf_counter() - build_start, cpu() - build_cpu]
    return times


def child(
    which: str, paths: list[str], root: Path, settings: dict[str, str]
) -> tuple[dict[str, list[float]], float, float]:
    """(step seconds, wall seconds, peak RSS MB) of one fresh process profiling `which` with the code of `root`;
    `settings` are the snapshot's (BENCH_MEMORY_LIMIT, BENCH_BASE_STORE), passed in its environment."""
    env = {**os.environ, "PYTHONPATH": str(root), **settings}
    command = [sys.executable, __file__, "--child", which, *[a for p in paths for a in ("--logs", p)]]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{which} failed:\n{(proc.stderr.read() if proc.stderr else '')[-3000:]}")
    return json.loads(out.splitlines()[-1]), wall, usage.ru_maxrss / 1024


def table(snap: dict[str, list[float]], hand: dict[str, list[float]], walls: dict[str, tuple[float, float]]) -> str:
    whole = "whole build (in-process, after imports)"
    lines = [
        "| step | snapshot: s (CPU s) | of which per-file state: s (CPU s) | hand-written script: s (CPU s) |",
        "|---|---:|---:|---:|",
    ]

    def pair(value: list[float]) -> str:
        return f"{value[0]:.2f} ({value[1]:.2f})"

    nested = {k for k in snap if k.startswith("  ")}
    steps = [k for k in snap if k not in ("import", whole)]
    measured = [sum(snap[k][i] for k in steps if k not in nested) for i in (0, 1)]
    for key in steps:
        per_file = pair(snap[key]) if key in PER_FILE else ""
        lines.append(f"| {key.replace('  ', '&nbsp;&nbsp;')} | {pair(snap[key])} | {per_file} | |")
    lines.append(f"| other (Python between the steps) | {pair([snap[whole][i] - measured[i] for i in (0, 1)])} | | |")
    for key, value in hand.items():
        if key.startswith("hand: "):
            lines.append(f"| {key} | | | {pair(value)} |")
    per_file_total = [sum(snap[k][i] for k in steps if k in PER_FILE) for i in (0, 1)]
    lines.append(f"| **in-process build, after imports** | **{pair(snap[whole])}** | **{pair(per_file_total)}** | "
                 f"**{pair(hand[whole])}** |")  # fmt: skip
    lines.append(f"| imports | {pair(snap['import'])} | | {pair(hand['import'])} |")
    (s_wall, s_rss), (h_wall, h_rss) = walls["snapshot"], walls["hand"]
    lines.append(f"| process wall time (peak RSS) | {s_wall:.2f} ({s_rss:.0f} MB) | | {h_wall:.2f} ({h_rss:.0f} MB) |")
    lines.append(f"\nsnapshot / hand-written script, process wall time: {s_wall / h_wall:.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", action="append", default=[])
    parser.add_argument("--daily", type=int, default=0, help="use bench/out/daily/day001..N of 1 M rows")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs (default: this one)")
    parser.add_argument("--child", choices=("snapshot", "hand"))
    parser.add_argument("--memory-limit", help="the snapshot's --memory-limit (default: its default)")
    parser.add_argument("--base-store", help="profile the build on a copy of this store (an increment)")
    args = parser.parse_args()
    paths = [str(ROOT / "bench" / "out" / "daily" / f"day{d:03d}_1000000.parquet") for d in range(1, args.daily + 1)]
    paths += args.logs
    if args.child:
        profile = profile_snapshot if args.child == "snapshot" else profile_handwritten
        print(json.dumps(profile(paths)))
        return
    load = os.getloadavg()
    settings = {"BENCH_MEMORY_LIMIT": args.memory_limit or "", "BENCH_BASE_STORE": args.base_store or ""}
    snap, s_wall, s_rss = child("snapshot", paths, args.root, settings)
    hand, h_wall, h_rss = child("hand", paths, args.root, {})
    end_load = os.getloadavg()
    print(f"code of {args.root}; {len(paths)} file(s); {os.cpu_count()} cores; "
          f"load average {load[0]:.1f} before, {end_load[0]:.1f} after\n")  # fmt: skip
    print(table(snap, hand, {"snapshot": (s_wall, s_rss), "hand": (h_wall, h_rss)}))


if __name__ == "__main__":
    main()
