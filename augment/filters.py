"""Candidate filters: every proposed request is kept or rejected with one reason, and the reasons are counted.

Reasons, checked in this order (first match wins): `empty`, `too_long` (> 200 characters after normalization),
`same_as_source`, `in_train` (a train intent of the parent version), `in_test` (a test intent after
normalization, or a MiniLM cosine to one of at least `near_dup`), `duplicate` (already accepted in this
iteration). Candidates are normalized with `normalize_intent`, the snapshot's normalization.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from augment.candidates import Candidate
from databuild.normalize import MAX_INTENT_CHARS, normalize_intent

REJECTION_REASONS: tuple[str, ...] = ("empty", "too_long", "same_as_source", "in_train", "in_test", "duplicate")
CANDIDATE_SCHEMA = {"source_intent": pl.String, "intent_text": pl.String, "n_calls": pl.Int64}


def candidates_frame(candidates: Sequence[Candidate]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_intent": [c.source_intent for c in candidates],
            "intent_text": [c.text for c in candidates],
            "n_calls": [c.n_calls for c in candidates],
        },
        schema=CANDIDATE_SCHEMA,
    )


def max_similarity(queries: np.ndarray, references: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per query row, its highest dot product with any reference row (-inf without references) and that row (-1)."""
    best = np.full(queries.shape[0], -np.inf, dtype=np.float32)
    closest = np.full(queries.shape[0], -1, dtype=np.int64)
    if references.shape[0] == 0:
        return best, closest
    for start in range(0, queries.shape[0], chunk):
        similarity = queries[start : start + chunk] @ references.T
        closest[start : start + chunk] = similarity.argmax(axis=1)
        best[start : start + chunk] = similarity.max(axis=1)
    return best, closest


def filter_candidates(
    candidates: pl.DataFrame,
    train_intents: pl.Series,
    test_intents: pl.Series,
    embed: Callable[[list[str]], np.ndarray] | None,
    test_embeddings: np.ndarray | None,
    near_dup: float = 0.95,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """`candidates` (source_intent, intent_text, n_calls, in proposal order) with `intent` (normalized), `reason`
    (null = accepted), and for `in_test` the test intent it matched and their cosine (`near_test_intent`,
    `near_test_cosine`; 1.0 for an exact match) added, and the count per reason (every reason present, in order).

    `embed` maps intents to L2-normalized rows comparable with `test_embeddings`; None skips the near-duplicate
    check (exact test matches are still rejected).
    """
    texts = candidates.get_column("intent_text").to_list()
    frame = candidates.with_columns(
        pl.Series("intent", [normalize_intent(text or "") for text in texts], dtype=pl.String)
    )
    frame = frame.with_columns(
        pl.when(pl.col("intent") == "")
        .then(pl.lit("empty"))
        .when(pl.col("intent").str.len_chars() > MAX_INTENT_CHARS)
        .then(pl.lit("too_long"))
        .when(pl.col("intent") == pl.col("source_intent"))
        .then(pl.lit("same_as_source"))
        .when(pl.col("intent").is_in(train_intents.implode()))
        .then(pl.lit("in_train"))
        .when(pl.col("intent").is_in(test_intents.implode()))
        .then(pl.lit("in_test"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("reason")
    )
    exact = pl.col("reason") == "in_test"
    frame = frame.with_columns(
        pl.when(exact).then(pl.col("intent")).otherwise(pl.lit(None, dtype=pl.String)).alias("near_test_intent"),
        pl.when(exact).then(pl.lit(1.0)).otherwise(pl.lit(None, dtype=pl.Float64)).alias("near_test_cosine"),
    )
    if embed is not None and test_embeddings is not None and test_embeddings.shape[0]:
        frame = _near_test_duplicates(frame, embed, test_embeddings, test_intents, near_dup)
    # First occurrence of an intent among the still-open candidates: (open?, intent) is first distinct.
    accepted_first = pl.struct(pl.col("reason").is_null().alias("open"), pl.col("intent")).is_first_distinct()
    frame = frame.with_columns(
        pl.when(pl.col("reason").is_null() & ~accepted_first)
        .then(pl.lit("duplicate"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )
    counted = frame.get_column("reason").drop_nulls().value_counts()
    found = dict(zip(counted.get_column("reason").to_list(), counted.get_column("count").to_list(), strict=True))
    return frame, {reason: int(found.get(reason, 0)) for reason in REJECTION_REASONS}


def _near_test_duplicates(
    frame: pl.DataFrame,
    embed: Callable[[list[str]], np.ndarray],
    test_embeddings: np.ndarray,
    test_intents: pl.Series,
    near_dup: float,
) -> pl.DataFrame:
    """Still-open candidates within `near_dup` cosine of a test intent become `in_test`, with that intent."""
    distinct = frame.filter(pl.col("reason").is_null()).get_column("intent").unique(maintain_order=True)
    if not distinct.len():
        return frame
    cosine, closest = max_similarity(embed(distinct.to_list()), test_embeddings)
    near = pl.DataFrame(
        {
            "intent": distinct,
            "closest_test": test_intents.gather(np.maximum(closest, 0)),
            "closest_cosine": cosine.astype(np.float64),
        }
    ).filter(pl.col("closest_cosine") >= near_dup)
    frame = frame.join(near, on="intent", how="left", maintain_order="left")
    hit = pl.col("reason").is_null() & pl.col("closest_test").is_not_null()
    return frame.with_columns(
        pl.when(hit).then(pl.lit("in_test")).otherwise(pl.col("reason")).alias("reason"),
        pl.when(hit).then(pl.col("closest_test")).otherwise(pl.col("near_test_intent")).alias("near_test_intent"),
        pl.when(hit).then(pl.col("closest_cosine")).otherwise(pl.col("near_test_cosine")).alias("near_test_cosine"),
    ).drop("closest_test", "closest_cosine")
