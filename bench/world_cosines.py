"""The long-tail world under the student's embedder: cosine of same-look vs different-look phrasing pairs.

Phrasings of seed 0's phrasebook, `--per-look` of each look's most popular ones (the Zipf head), embedded by
`databuild.embeddings` (all-MiniLM-L6-v2, the kNN student's encoder). Pairs: every pair within a look; pairs of
neighbouring looks (same mood or same scene, other look); pairs of unrelated looks (neither shared), sampled.
Also: how often a phrasing's nearest other phrasing phrases the same look (what a kNN student needs).

    .venv/bin/python bench/world_cosines.py [--per-look 5] [--pairs 20000] [--store DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databuild.embeddings import embed_intents  # noqa: E402
from databuild.packs.colour.longtail import LongtailOptions, build_phrasebook  # noqa: E402
from databuild.store import open_store  # noqa: E402

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-look", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    book = build_phrasebook(0, LongtailOptions.phrasings_per_look)
    texts = [text for phrasings in book.phrasings for text in phrasings[: args.per_look]]
    look = np.repeat(np.arange(len(book.phrasings)), args.per_look)
    with tempfile.TemporaryDirectory() as scratch:
        matrix, _ = embed_intents(open_store(args.store or Path(scratch)), texts, show_progress=False)
    cosine = matrix @ matrix.T
    mood, scene = book.look_mood[look], book.look_scene[look]
    same = look[:, None] == look[None, :]
    neighbour = ~same & ((mood[:, None] == mood[None, :]) | (scene[:, None] == scene[None, :]))
    upper = np.triu(np.ones_like(same), k=1)
    rng = np.random.default_rng(0)
    groups = {
        "same look": cosine[same & upper],
        "neighbouring look (same mood or scene)": cosine[neighbour & upper],
        "unrelated look": cosine[~same & ~neighbour & upper],
    }
    print(
        f"Cosine of phrasing pairs under all-MiniLM-L6-v2: long-tail world seed 0, {len(texts):,} phrasings "
        f"({args.per_look} most popular of each of {len(book.phrasings)} looks), {time.perf_counter() - started:.0f} s"
    )
    print()
    print("| pairs | count | " + " | ".join(f"p{round(q * 100)}" for q in QUANTILES) + " | mean |")
    print("|---|---:|" + "---:|" * (len(QUANTILES) + 1))
    for name, values in groups.items():
        shown = values if values.size <= args.pairs else rng.choice(values, args.pairs, replace=False)
        quantiles = " | ".join(f"{v:.2f}" for v in np.quantile(values, QUANTILES))
        print(f"| {name} | {values.size:,} | {quantiles} | {shown.mean():.2f} |")
    np.fill_diagonal(cosine, -np.inf)
    nearest = cosine.argmax(axis=1)
    same_nearest = float(np.mean(look[nearest] == look))
    share_neighbour = float(np.mean(neighbour[np.arange(len(look)), nearest]))
    above = float(np.mean(groups["unrelated look"] > np.median(groups["same look"])))
    print()
    print(
        f"nearest other phrasing: same look {same_nearest:.1%}, a neighbouring look {share_neighbour:.1%}, "
        f"unrelated {1 - same_nearest - share_neighbour:.1%}; unrelated pairs above the same-look median: {above:.1%}"
    )


if __name__ == "__main__":
    main()
