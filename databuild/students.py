"""Students behind one small interface: the embedded kNN student, and trained runs (from `train/`).

A student answers intents with one completion per tool, the text a fine-tuned model would write:
`Parameters: {…}` with the sparse JSON the SFT completions use. `databuild predict`, the augment loop and the
train stage's evaluation all go through `load_student`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import polars as pl

from databuild.errors import DatabuildError
from databuild.normalize import normalize_intent
from databuild.progress import Progress
from databuild.store import Store
from databuild.tools import TOOLS

KNN_SPEC = "knn"
SEARCH_CHUNK = 2048  # query rows per similarity product: bounds memory at chunk x train floats


@runtime_checkable
class Student(Protocol):
    name: str

    def predict(self, intents: list[str], on_progress: Callable[[int], None] | None = None) -> list[dict[str, str]]:
        """Per intent, `{tool: completion text}` for the three tools, in the order given.

        `on_progress`, when given, is told how many intents are answered as the work goes on.
        """
        ...


def completions_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """Per row, the three completions the SFT data teaches: `Parameters: <sparse canonical JSON>`."""
    from pipelines.emit import sparse_json
    from pipelines.prompts import COMPLETION_PREFIX

    return rows.select(
        [
            pl.concat_str(
                [pl.lit(COMPLETION_PREFIX), pl.col(tool) if tool == "filter" else sparse_json(pl.col(tool))]
            ).alias(tool)
            for tool in TOOLS
        ]
    )


def unused_completions() -> dict[str, str]:
    """What a student writes when it uses no tool (the answer when there is no neighbour at all)."""
    from pipelines.prompts import COMPLETION_PREFIX

    return {
        "adjust": f"{COMPLETION_PREFIX}{{}}",
        "selective_adjust": f"{COMPLETION_PREFIX}{{}}",
        "filter": f'{COMPLETION_PREFIX}{{"name":"none","intensity":0}}',
    }


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
        from pipelines.emit import load_rows

        self.store = store
        self.version = version
        self.show_progress = show_progress
        train = load_rows(store, version).filter(pl.col("split") == "train").sort("intent")
        self.train_intents: pl.Series = train.get_column("intent")
        self.train_completions = completions_frame(train)
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
        fallback = unused_completions()
        answers = answered.select([pl.col(tool).fill_null(pl.lit(fallback[tool])) for tool in TOOLS]).to_dicts()
        if on_progress is not None:  # the embedding bar showed the slow part; all intents are answered at once
            on_progress(len(answers))
        return answers


def load_student(spec: str, store: Store, version: str, show_progress: bool = True) -> Student:
    """`knn` (the embedded student over `version`'s train rows), or a trained run: a directory or a run id."""
    if spec == KNN_SPEC:
        return KnnStudent(store, version, show_progress)
    run_dir = _run_dir(spec, store)
    from train.student import TrainedStudent

    student: Any = TrainedStudent(run_dir)
    return student


def _run_dir(spec: str, store: Store) -> Path:
    for candidate in (Path(spec), store.runs_dir / spec):
        if candidate.is_dir():
            return candidate
    raise DatabuildError(
        f"student {spec!r} is neither 'knn' nor a trained run directory (no such directory: {spec}"
        f" or {store.runs_dir / spec})"
    )


def run_prediction(
    store: Store, version: str, split: str, spec: str, output: Path, show_progress: bool = True
) -> dict[str, Any]:
    """Answer every intent of `version`'s `split` with student `spec`; write the predictions JSONL atomically.

    Returns the summary `databuild predict --format json` prints: `rows`, `seconds`, `cache_hits` (kNN: distinct
    intents whose embedding came from the cache), and `latency_seconds` per request when the student reports it.
    """
    import time

    from databuild.store import atomic_write_text
    from pipelines.emit import load_rows

    started = time.perf_counter()
    intents = load_rows(store, version).filter(pl.col("split") == split).sort("intent").get_column("intent").to_list()
    student = load_student(spec, store, version, show_progress)
    with Progress(f"predicting {version}/{split}", total=len(intents), enabled=show_progress) as progress:
        completions = student.predict(intents, on_progress=progress.update)
    lines = pl.DataFrame(
        {"intent": intents} | {tool: [answer.get(tool) for answer in completions] for tool in TOOLS},
        schema={"intent": pl.String} | {tool: pl.String for tool in TOOLS},
    )
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
