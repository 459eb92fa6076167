"""Students behind one small interface: the embedded kNN student here, trained runs in `train/`.

A student answers intents with one completion per tool of the version's pack, the text a fine-tuned model would
write: `Parameters: {…}` as the SFT completions have it. Commands build the student (`knn`, a run directory) and
hand it to `run_prediction`, the augment loop or the train stage's evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import polars as pl

from databuild.contracts import completions_frame, load_rows, predictions_frame, unused_completions
from databuild.normalize import normalize_intent
from databuild.progress import Progress
from databuild.store import Store

KNN_SPEC = "knn"
SEARCH_CHUNK = 2048  # query rows per similarity product: bounds memory at chunk x train floats


@runtime_checkable
class Student(Protocol):
    name: str

    def predict(self, intents: list[str], on_progress: Callable[[int], None] | None = None) -> list[dict[str, str]]:
        """Per intent, `{tool: completion text}` for every tool of the pack, in the order given.

        `on_progress`, when given, is told how many intents are answered as the work goes on.
        """
        ...


def nearest_neighbours(
    queries: np.ndarray, index: np.ndarray, excluded: np.ndarray | None = None, chunk: int = SEARCH_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Row of `index` most similar (dot product) to each query row, and the similarity; -1 / -inf when none.

    `excluded[i]` (or -1) is an index row query i may not return: leave-one-out for a query that is in the index.
    Ties go to the lowest index row.
    """
    best = np.full(len(queries), -1, dtype=np.int64)
    best_similarity = np.full(len(queries), -np.inf, dtype=np.float32)
    if len(index) == 0:
        return best, best_similarity
    for start in range(0, len(queries), chunk):
        similarity = queries[start : start + chunk] @ index.T
        if excluded is not None:
            rows = np.nonzero(excluded[start : start + chunk] >= 0)[0]
            similarity[rows, excluded[start : start + chunk][rows]] = -np.inf
        chosen = similarity.argmax(axis=1)
        chosen_similarity = similarity[np.arange(len(chosen)), chosen]
        best[start : start + chunk] = np.where(np.isfinite(chosen_similarity), chosen, -1)
        best_similarity[start : start + chunk] = chosen_similarity
    return best, best_similarity


class KnnStudent:
    """Answers an intent with the ground truth of its most similar train intent (never the intent itself)."""

    name = KNN_SPEC

    def __init__(self, store: Store, version: str, show_progress: bool = True) -> None:
        self.store = store
        self.version = version
        self.show_progress = show_progress
        self.pack = store.pack(version)
        train = load_rows(store, version).filter(pl.col("split") == "train").sort("intent")
        self.train_intents: pl.Series = train.get_column("intent")
        self.train_completions = completions_frame(train, self.pack)
        self.cache_hits = 0
        self._index: np.ndarray | None = None

    def neighbours(self, intents: list[str]) -> np.ndarray:
        """Train row answering each intent (-1: no other train intent exists)."""
        from databuild.embeddings import embed_intents

        if self._index is None:  # one lookup for train and queries: `cache_hits` counts distinct intents
            train = self.train_intents.to_list()
            matrix, hits = embed_intents(self.store, train + intents, self.show_progress)
            self._index, queries = matrix[: len(train)], matrix[len(train) :]
        else:
            queries, hits = embed_intents(self.store, intents, self.show_progress)
        self.cache_hits += hits
        positions = pl.DataFrame({"intent": self.train_intents}).with_row_index("position")
        own_rows = (
            pl.DataFrame({"intent": [normalize_intent(text) for text in intents]}, schema={"intent": pl.String})
            .join(positions, on="intent", how="left", maintain_order="left")
            .get_column("position")
            .cast(pl.Int64)
            .fill_null(-1)
            .to_numpy()
        )
        chosen, _ = nearest_neighbours(queries, self._index, own_rows)
        return chosen

    def predict(self, intents: list[str], on_progress: Callable[[int], None] | None = None) -> list[dict[str, str]]:
        chosen = self.neighbours(intents)
        answered = pl.DataFrame({"row": chosen}).join(
            self.train_completions.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64)),
            on="row",
            how="left",
            maintain_order="left",
        )
        fallback = unused_completions(self.pack)
        answers = answered.select([pl.col(t).fill_null(pl.lit(fallback[t])) for t in self.pack.names]).to_dicts()
        if on_progress is not None:  # the embedding bar showed the slow part; all intents are answered at once
            on_progress(len(answers))
        return answers


def run_prediction(
    store: Store, version: str, split: str, student: Student, output: Path, show_progress: bool = True
) -> dict[str, Any]:
    """Answer every intent of `version`'s `split` with `student`; write the predictions JSONL atomically.

    Returns the summary `databuild predict --format json` prints: `rows`, `seconds`, `cache_hits` (kNN: distinct
    intents whose embedding came from the cache), and `latency_seconds` per request when the student reports it.
    """
    import time

    from databuild.store import atomic_write_text

    started = time.perf_counter()
    intents = load_rows(store, version).filter(pl.col("split") == split).sort("intent").get_column("intent").to_list()
    with Progress(f"predicting {version}/{split}", total=len(intents), enabled=show_progress) as progress:
        completions = student.predict(intents, on_progress=progress.update)
    lines = predictions_frame(intents, completions, store.pack(version))
    atomic_write_text(output, lines.write_ndjson() if lines.height else "")
    summary: dict[str, Any] = {
        "rows": lines.height,
        "seconds": round(time.perf_counter() - started, 3),
        "cache_hits": int(getattr(student, "cache_hits", 0)),
    }
    latency = getattr(student, "last_latency_seconds", None)
    if latency is not None:
        summary["latency_seconds"] = round(float(latency), 4)
    return summary
