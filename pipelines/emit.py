"""Emit a dataset version: a Polars frame of ground-truth rows -> `rows/` and `sft/` DatasetDicts + manifest + card.

Both snapshot and augment end here, so every version has the same layout, fingerprint rule and card.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from databuild.store import Store, reading
from databuild.tools import TOOLS
from pipelines import prompts
from pipelines.card import render_card

SPLITS = ("train", "test")
ROW_COLUMNS = (
    "intent",
    "intent_text",
    "adjust",
    "selective_adjust",
    "filter",
    "adjust_used",
    "selective_adjust_used",
    "filter_used",
    "n_calls",
    "source",
    "augmented_from",
    "iteration",
)
ROW_SCHEMA: dict[str, Any] = {
    "intent": pl.String,
    "intent_text": pl.String,
    "adjust": pl.String,
    "selective_adjust": pl.String,
    "filter": pl.String,
    "adjust_used": pl.Boolean,
    "selective_adjust_used": pl.Boolean,
    "filter_used": pl.Boolean,
    "n_calls": pl.Int64,
    "source": pl.String,
    "augmented_from": pl.String,
    "iteration": pl.Int64,
}


@dataclass(frozen=True)
class Published:
    name: str
    fingerprint: str
    unchanged: bool  # True: an identical version existed, nothing was written
    path: Path


def sparse_json(canonical: pl.Expr) -> pl.Expr:
    """Canonical JSON with the zero parameters (and emptied colours) removed: the SFT completion body."""
    return (
        canonical.str.replace_all(r'"\w+":0([,}])', "$1")  # Polars regex has no look-ahead
        .str.replace_all(r'"\w+":\{,*\}', "")
        .str.replace_all(r",{2,}", ",")
        .str.replace_all(r"\{,", "{")
        .str.replace_all(r",\}", "}")
    )


def build_sft(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per (intent, tool): the concise student prompt and `Parameters: <sparse json>`."""
    per_tool = []
    for tool in TOOLS:
        before, after = prompts.template_parts(tool)
        body = pl.col(tool) if tool == "filter" else sparse_json(pl.col(tool))
        per_tool.append(
            rows.select(
                pl.col("intent"),
                pl.lit(tool).alias("tool"),
                pl.concat_str([pl.lit(before), pl.col("intent"), pl.lit(after)]).alias("prompt"),
                pl.concat_str([pl.lit(prompts.COMPLETION_PREFIX), body]).alias("completion"),
                pl.col("split"),
            )
        )
    return pl.concat(per_tool).sort("intent", "tool")


def used_all(rows: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The paper's Used/All table: per split, `rows` and `<tool>_used` counts."""
    table: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        part = rows.filter(pl.col("split") == split)
        table[split] = {"rows": part.height} | {f"{tool}_used": int(part[f"{tool}_used"].sum() or 0) for tool in TOOLS}
    return table


def fingerprint(rows: pl.DataFrame, shaping_options: dict[str, Any]) -> str:
    """Hash of the content (rows with their split, prompt templates) and the options that shaped it."""
    digest = hashlib.sha256()
    digest.update(json.dumps(shaping_options, sort_keys=True, default=str).encode())
    digest.update(prompts.templates_hash().encode())
    ordered = rows.select([*ROW_COLUMNS, "split"]).sort("intent")
    digest.update(ordered.write_ndjson().encode())
    return "sha256:" + digest.hexdigest()


def _to_dataset_dict(frame: pl.DataFrame, columns: list[str]) -> Any:
    import datasets

    datasets.disable_progress_bars()

    splits = {}
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split).select(columns)
        splits[split] = datasets.Dataset(part.to_arrow())
    return datasets.DatasetDict(splits)


def _save_dataset_dict(dataset_dict: Any, path: Path) -> None:
    # An empty split saved without an explicit shard count does not load back (datasets 5.x).
    dataset_dict.save_to_disk(str(path), num_shards={split: 1 for split in SPLITS})


def publish_version(
    store: Store,
    rows: pl.DataFrame,
    manifest: dict[str, Any],
    shaping_options: dict[str, Any],
    quarantine: pl.DataFrame | None = None,
    parent: str | None = None,
    parent_is_newest: bool = True,
    tables: dict[str, pl.DataFrame] | None = None,
    lock_timeout: float | None = None,
) -> Published:
    """Write `rows` (ROW_COLUMNS + `split`) as the next version, atomically; or report the identical one.

    `manifest` holds the caller's fields (command, parameters, inputs, accounting…); name, fingerprint, parent,
    created_at and the Used/All counts are added here. `tables` are more Parquet files of the version (file name ->
    frame), written before the rename like everything else it needs. `lock_timeout`: see `Store.lock`.
    """
    rows = rows.select([pl.col(c).cast(t) for c, t in ROW_SCHEMA.items()] + [pl.col("split")]).sort("intent")
    fp = fingerprint(rows, shaping_options)
    existing = store.find_fingerprint(fp)
    if existing:
        return Published(existing, fp, True, store.version_dir(existing))
    sft = build_sft(rows)
    with store.staging() as staging:
        _save_dataset_dict(_to_dataset_dict(rows, list(ROW_COLUMNS)), staging / "rows")
        _save_dataset_dict(_to_dataset_dict(sft, ["intent", "tool", "prompt", "completion"]), staging / "sft")
        if quarantine is not None:
            quarantine.write_parquet(staging / "quarantine.parquet")
        for file_name, table in (tables or {}).items():
            table.write_parquet(staging / file_name)
        with store.lock(timeout=lock_timeout):
            store.sweep_tmp()  # work directories that killed builds left behind
            existing = store.find_fingerprint(fp)
            if existing:  # a concurrent run published the same content while we built
                return Published(existing, fp, True, store.version_dir(existing))
            name = store.next_version_name()
            full = {
                "name": name,
                "fingerprint": fp,
                "parent": store.latest() if parent_is_newest else parent,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **manifest,
                "used_all": used_all(rows),
                "sft_rows": {split: int((sft["split"] == split).sum()) for split in SPLITS},
                "prompt_templates_sha256": prompts.templates_hash(),
            }
            (staging / "manifest.json").write_text(json.dumps(full, indent=2, default=str) + "\n", encoding="utf-8")
            (staging / "README.md").write_text(render_card(full), encoding="utf-8")
            store.versions_dir.mkdir(parents=True, exist_ok=True)
            final = store.version_dir(name)
            os.rename(staging, final)
            staging.mkdir()  # the context manager removes an (empty) staging dir on exit
    return Published(name, fp, False, final)


def load_rows(store: Store, name: str) -> pl.DataFrame:
    """A version's rows (both splits) as one Polars frame with a `split` column."""
    import datasets

    frames = []
    with reading(store.version_dir(name) / "rows"):
        dataset_dict = datasets.load_from_disk(str(store.version_dir(name) / "rows"))
        for split in SPLITS:
            frame = pl.from_arrow(dataset_dict[split].data.table)
            assert isinstance(frame, pl.DataFrame)
            frames.append(frame.with_columns(pl.lit(split).alias("split")))
        return pl.concat(frames, how="vertical_relaxed")
