"""What checking the snapshot cache's entries costs: sha256 against xxh3-128 over the same files.

    python bench/cache_checksum.py STORE/cache/snapshot     # or any folder of Parquet files (bench/out/daily)

Reads every file under the folder once to warm the page cache (a daily build finds its entries there: the last
build wrote them), then times each checksum over all of them, three times, and prints the best run per checksum as
a markdown table (with the machine's load: it is shared).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import xxhash


def _digest(path: Path, make: Callable[[], object]) -> None:
    checksum = make()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            checksum.update(chunk)  # type: ignore[attr-defined]


def best_seconds(files: list[Path], make: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for path in files:
            _digest(path, make)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/daily")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    total = sum(p.stat().st_size for p in files)
    for path in files:
        path.read_bytes()  # warm the page cache
    load = os.getloadavg()
    print(f"Checksums over {len(files)} files, {total / 1e6:.0f} MB in {folder}; {os.cpu_count()} cores, load "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")  # fmt: skip
    print("| checksum | seconds (best of 3) | MB/s |\n|---|---:|---:|")
    for name, make in (("sha256", hashlib.sha256), ("xxh3-128", xxhash.xxh3_128)):
        seconds = best_seconds(files, make)
        print(f"| {name} | {seconds:.2f} | {total / 1e6 / seconds:.0f} |")


if __name__ == "__main__":
    main()
