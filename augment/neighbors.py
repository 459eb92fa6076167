"""The offline `neighbors` generator: real logged phrasings instead of invented ones.

Its pool is the snapshot's `versions/<root version>/intent_pool.parquet` — normalized intents seen in the logs
that did not make it into the dataset (zero exports, incomplete tools). For each mistaken intent it proposes the
pool intents with the highest MiniLM cosine to it, strictly above `min_similarity`, leaving out intents the parent
version already holds (an earlier iteration may have added them). The candidates then go through the same filters
as an LLM's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from augment.candidates import CallAccounting, Candidate, Generation
from databuild.errors import DatabuildError
from databuild.store import Store, reading

QUERY_CHUNK = 512  # mistaken intents per similarity product: bounds memory at chunk x pool floats


def intent_pool_path(store: Store, root_version: str) -> Path:
    return store.intent_pool_path(root_version)


def top_neighbours(
    queries: np.ndarray, pool: np.ndarray, k: int, min_similarity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per query row, the `k` pool rows of highest dot product above `min_similarity` (ties: lower row first).

    Returns (rows, similarities), both (n_queries, k); rows is -1 where fewer than k pool rows qualify.
    """
    k_eff = min(k, pool.shape[0])
    rows = np.full((queries.shape[0], k), -1, dtype=np.int64)
    similarities = np.full((queries.shape[0], k), -np.inf, dtype=np.float32)
    if k_eff == 0:
        return rows, similarities
    for start in range(0, queries.shape[0], QUERY_CHUNK):
        similarity = queries[start : start + QUERY_CHUNK] @ pool.T
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k_eff]
        best = np.take_along_axis(similarity, order, axis=1)
        keep = best > min_similarity
        rows[start : start + QUERY_CHUNK, :k_eff] = np.where(keep, order, -1)
        similarities[start : start + QUERY_CHUNK, :k_eff] = np.where(keep, best, -np.inf)
    return rows, similarities


class NeighborsGenerator:
    name = "neighbors"
    model: str | None = None

    def __init__(
        self,
        store: Store,
        root_version: str,
        known_intents: pl.Series,
        min_similarity: float = 0.6,
        show_progress: bool = True,
    ) -> None:
        path = intent_pool_path(store, root_version)
        if not path.is_file():
            raise DatabuildError(
                f"the neighbors generator needs the intent pool of {root_version} ({path}), which `databuild "
                "snapshot` writes; rebuild the snapshot or use --generator openai"
            )
        self.store = store
        self.pool_path = path
        self.min_similarity = min_similarity
        self.show_progress = show_progress
        with reading(path):
            self.pool = (
                pl.read_parquet(path, columns=["intent", "intent_text", "n_calls"])
                .filter(~pl.col("intent").is_in(known_intents.implode()))
                .unique("intent", keep="first")
                .sort("intent")
            )

    def propose(
        self,
        sources: Sequence[str],
        per_mistake: int,
        ordinal_offset: int = 0,
        on_done: Callable[[], None] | None = None,
    ) -> Generation:
        from databuild.embeddings import embed_intents

        candidates: list[Candidate] = []
        details = {"pool": str(self.pool_path.name), "pool_intents": self.pool.height}
        if not sources or self.pool.height == 0:
            return Generation(candidates, CallAccounting(), requested=len(sources), details=details)
        pool_matrix, _ = embed_intents(self.store, self.pool.get_column("intent").to_list(), self.show_progress)
        queries, _ = embed_intents(self.store, list(sources), self.show_progress)
        rows, _ = top_neighbours(queries, pool_matrix, per_mistake, self.min_similarity)
        pool_texts = self.pool.get_column("intent_text").to_list()
        pool_calls = self.pool.get_column("n_calls").to_list()
        for source, chosen in zip(sources, rows.tolist(), strict=True):
            for row in chosen:
                if row >= 0:
                    candidates.append(Candidate(source, pool_texts[row], int(pool_calls[row])))
            if on_done:
                on_done()
        return Generation(candidates, CallAccounting(), requested=len(sources), details=details)
