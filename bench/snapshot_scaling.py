"""The snapshot's scaling curve: full build, incremental build of one more day, and the floor, at growing sizes.

    python bench/snapshot_scaling.py --sizes 1,3,10,30 --rows-per-day 1000000 --plot docs/assets/snapshot_scaling.svg

For each size k (in days of --rows-per-day rows, simulated once into bench/out/daily/ and never stored in the repo):
- full: `databuild snapshot` over days 1..k in a fresh store, default options (wall seconds, peak RSS);
- incremental: the same store, days 1..k+1 (reads day k+1 only);
- floor: one DuckDB pass over days 1..k that reads every response and checks its JSON (`bench/snapshot.py`).
Prints a markdown table and writes the plot: PNG through matplotlib when it is installed, else an SVG drawn here.
Target: seconds of the full build at the largest size <= 3.3x those at the size before it when that is a third.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot import FLOOR  # noqa: E402  (bench/snapshot.py, beside this file)
from snapshot_incremental import DAILY, daily_logs, snapshot, timed  # noqa: E402

FLOOR_FILES = FLOOR.replace('{"f": sys.argv[1]}', '{"f": sys.argv[1:]}')  # the same pass over several files
COLOURS = {"full": "#1f77b4", "incremental": "#d62728", "floor": "#7f7f7f"}


def measure(size: int, rows_per_day: int) -> dict[str, tuple[float, float]]:
    paths = daily_logs(size + 1, rows_per_day)
    store = Path(tempfile.mkdtemp(prefix="bench-scaling-", dir=DAILY.parent))
    try:
        full = snapshot(store, paths[:size])
        incremental = snapshot(store, paths)
        assert incremental[2]["reuse"]["files_read"] == 1, incremental[2]["reuse"]
    finally:
        shutil.rmtree(store, ignore_errors=True)
    floor = timed([sys.executable, "-c", FLOOR_FILES, *map(str, paths[:size])])
    return {"full": full[:2], "incremental": incremental[:2], "floor": floor[:2]}


def svg_plot(rows: list[int], results: list[dict[str, tuple[float, float]]], path: Path) -> None:
    """Seconds against rows, one line per run kind: a small hand-drawn SVG (no plotting library needed)."""
    width, height, left, bottom, top, right = 640, 400, 60, 50, 20, 150
    x_max = max(rows) * 1.05
    y_max = max(r[kind][0] for r in results for kind in COLOURS) * 1.1

    def x(value: float) -> float:
        return left + value / x_max * (width - left - right)

    def y(value: float) -> float:
        return height - bottom - value / y_max * (height - bottom - top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{x(x_max)}" y2="{y(0)}" stroke="black"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(y_max)}" stroke="black"/>',
        f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">rows (millions)</text>',
        f'<text x="15" y="{(height - bottom) / 2}" transform="rotate(-90 15 {(height - bottom) / 2})" '
        'text-anchor="middle">seconds</text>',
    ]
    for value in rows:
        parts.append(f'<text x="{x(value)}" y="{y(0) + 16}" text-anchor="middle">{value / 1e6:g}</text>')
    step = _nice_step(y_max)
    tick = 0.0
    while tick <= y_max:
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end">{tick:g}</text>')
        parts.append(f'<line x1="{left}" y1="{y(tick)}" x2="{x(x_max)}" y2="{y(tick)}" stroke="#eee"/>')
        tick += step
    for index, (kind, colour) in enumerate(COLOURS.items()):
        points = " ".join(f"{x(n):.1f},{y(r[kind][0]):.1f}" for n, r in zip(rows, results, strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, r in zip(rows, results, strict=True):
            parts.append(f'<circle cx="{x(n):.1f}" cy="{y(r[kind][0]):.1f}" r="3" fill="{colour}"/>')
        label_y = top + 20 * index + 10
        parts.append(
            f'<line x1="{width - right + 15}" y1="{label_y}" x2="{width - right + 35}" y2="{label_y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{width - right + 40}" y="{label_y + 4}">{kind}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _nice_step(span: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if span / step <= 8:
            return float(step)
    return span / 5


def png_plot(rows: list[int], results: list[dict[str, tuple[float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4))
    for kind, colour in COLOURS.items():
        axes.plot([n / 1e6 for n in rows], [r[kind][0] for r in results], "o-", color=colour, label=kind)
    axes.set_xlabel("rows (millions)")
    axes.set_ylabel("seconds")
    axes.legend()
    figure.savefig(path, dpi=100, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,3,10,30", help="sizes in days, comma-separated")
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--plot", type=Path, default=Path("docs/assets/snapshot_scaling.svg"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        results.append(measure(size, args.rows_per_day))
        print(f"{size} days: {results[-1]}", file=sys.stderr)
    rows = [size * args.rows_per_day for size in sizes]
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end\n")
    print(
        "| rows | full: s | full: peak RSS | incremental +1 day: s | incremental: peak RSS | floor: s | full / floor |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in zip(rows, results, strict=True):
        (full, full_rss), (inc, inc_rss), (floor, _) = r["full"], r["incremental"], r["floor"]
        print(
            f"| {n:,} | {full:.1f} | {full_rss:.0f} MB | {inc:.1f} | {inc_rss:.0f} MB | {floor:.1f} | "
            f"{full / floor:.2f}x |"
        )
    if len(sizes) > 1 and sizes[-1] == 3 * sizes[-2]:
        growth = results[-1]["full"][0] / results[-2]["full"][0]
        print(
            f"\nfull build {rows[-1]:,} / {rows[-2]:,} rows: {growth:.2f}x (target <= 3.3x: "
            f"{'yes' if growth <= 3.3 else 'NO'})"
        )
    try:
        png_plot(rows, results, args.plot.with_suffix(".png"))
        print(f"plot: {args.plot.with_suffix('.png')}")
    except ImportError:
        svg_plot(rows, results, args.plot.with_suffix(".svg"))
        print(f"plot: {args.plot.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
