"""Emit a dataset version: a Polars frame of ground-truth rows -> `rows/` and `sft/` DatasetDicts + manifest + card.

Both snapshot and augment end here, so every version has the same layout, fingerprint rule and card.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from databuild.contracts import SPLITS, build_sft, row_schema, used_all
from databuild.pack import ToolPack, colour_pack
from databuild.store import CARD_FILE, MANIFEST_FILE, PACK_FILE, QUARANTINE_FILE, ROWS_DIR, SFT_DIR, Store
from databuild.store_cleanup import real_folder
from pipelines.card import render_card
from pipelines.dataset_files import SplitTable, write_dataset_dict


@dataclass(frozen=True)
class Published:
    name: str
    fingerprint: str
    unchanged: bool  # True: an identical version existed, nothing was written
    path: Path


def fingerprint(rows: pl.DataFrame, shaping_options: dict[str, Any], pack: ToolPack) -> str:
    """Hash of the content (rows with their split), the tool pack (its prompts included) and the shaping options."""
    digest = hashlib.sha256()
    digest.update(json.dumps(shaping_options, sort_keys=True, default=str).encode())
    digest.update(pack.sha256.encode())
    ordered = rows.select([*pack.row_columns(), "split"]).sort("intent")
    ndjson = io.BytesIO()  # the bytes as written: no round trip through a str (a big version's 40 MB, twice)
    ordered.write_ndjson(ndjson)
    digest.update(ndjson.getbuffer())
    return "sha256:" + digest.hexdigest()


def _to_dataset_dict(frame: pl.DataFrame, columns: list[str], content: str) -> dict[str, SplitTable]:
    """One config's splits; each split's `datasets` fingerprint derives from the version's content fingerprint
    (`datasets` would otherwise hash every table with dill: half a second for a big version)."""
    splits = {}
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split).select(columns)
        split_fingerprint = hashlib.sha256(f"{content}/{split}".encode()).hexdigest()[:16]
        splits[split] = SplitTable(part.to_arrow(), split_fingerprint)
    return splits


def _save_dataset_dict(splits: dict[str, SplitTable], path: Path) -> dict[str, Any]:
    """Save one config (`rows` or `sft`) as `datasets`' `save_to_disk` would, one shard a split (an empty split saved
    without an explicit shard count does not load back in datasets 5.x); returns what its card entry needs: features
    and split sizes."""
    features = write_dataset_dict(splits, path)
    return {
        "features": [(column, feature["dtype"]) for column, feature in features.items()],
        "splits": {
            split: {
                "num_examples": splits[split].table.num_rows,
                "num_bytes": splits[split].table.nbytes,  # what `datasets` records for the split
                "file_bytes": sum(f.stat().st_size for f in (path / split).glob("data-*.arrow")),
            }
            for split in SPLITS
        },
    }


def _parent(store: Store, parent: str | None, parent_is_newest: bool, parent_from_logs: bool) -> str | None:
    if parent_from_logs:
        return store.latest_from_logs()
    return store.latest() if parent_is_newest else parent


def publish_version(
    store: Store,
    rows: pl.DataFrame,
    manifest: dict[str, Any],
    shaping_options: dict[str, Any],
    quarantine: pl.DataFrame | Callable[[Path], None] | None = None,
    parent: str | None = None,
    parent_is_newest: bool = True,
    pack: ToolPack | None = None,
    parent_from_logs: bool = False,
    tables: dict[str, pl.DataFrame] | None = None,
    lock_timeout: float | None = None,
) -> Published:
    """Write `rows` (the pack's row columns + `split`) as the next version, atomically; or report the identical one.

    `manifest` holds the caller's fields (command, parameters, inputs, accounting…); name, fingerprint, parent,
    created_at, the pack and the Used/All counts are added here. `pack` defaults to the colour pack.
    `parent_from_logs`: the parent is the newest version built from logs (a snapshot's base), not the newest one.
    `tables` are more Parquet files of the version (file name -> frame: a snapshot's intent pool, augment's rejected
    candidates), written before the rename like everything else it needs. `lock_timeout`: see `Store.lock`.
    """
    pack = pack or colour_pack()
    schema = row_schema(pack)
    rows = rows.select([pl.col(c).cast(t) for c, t in schema.items()] + [pl.col("split")]).sort("intent")
    # beside the fingerprint: the SFT texts (Polars releases the GIL) and a writer's quarantine (a snapshot streams
    # it from DuckDB, never whole in Python; a daily build's copies the last version's file), which an unchanged
    # version discards with its staging folder
    with store.staging() as staging, ThreadPoolExecutor(max_workers=2) as helpers:
        quarantine_written = helpers.submit(quarantine, staging / QUARANTINE_FILE) if callable(quarantine) else None
        sft_built = helpers.submit(build_sft, rows, pack)
        fp = fingerprint(rows, shaping_options, pack)
        existing = store.find_fingerprint(fp)
        if existing:
            return Published(existing, fp, True, store.version_dir(existing))
        sft = sft_built.result()
        written = quarantine_written or (quarantine if isinstance(quarantine, pl.DataFrame) else None)
        datasets_info = _stage_files(staging, rows, sft, pack, written, tables or {}, fp)
        with store.lock(timeout=lock_timeout):
            store.sweep_tmp()  # work directories that killed builds left behind
            existing = store.find_fingerprint(fp)
            if existing:  # a concurrent run published the same content while we built
                return Published(existing, fp, True, store.version_dir(existing))
            name = store.next_version_name()
            full = {
                "name": name,
                "fingerprint": fp,
                "parent": _parent(store, parent, parent_is_newest, parent_from_logs),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **manifest,
                **_derived_fields(rows, sft, pack),
            }
            (staging / MANIFEST_FILE).write_text(json.dumps(full, indent=2, default=str) + "\n", encoding="utf-8")
            (staging / CARD_FILE).write_text(render_card(full, pack, datasets_info), encoding="utf-8")
            real_folder(store.root, store.versions_dir)  # never a version renamed through a link out of the store
            final = store.version_dir(name)
            os.rename(staging, final)
            staging.mkdir()  # the context manager removes an (empty) staging dir on exit
    return Published(name, fp, False, final)


def _stage_files(
    staging: Path,
    rows: pl.DataFrame,
    sft: pl.DataFrame,
    pack: ToolPack,
    quarantine: pl.DataFrame | Future[None] | None,
    tables: dict[str, pl.DataFrame],
    content: str,
) -> dict[str, Any]:
    """Write the version's data files into `staging` (everything but the manifest and the card, which need the
    version's name); returns the datasets' info for the card. `content`: the version's fingerprint. `quarantine`: a
    frame to write, or the writer already writing it."""
    columns = {ROWS_DIR: list(row_schema(pack)), SFT_DIR: ["intent", "tool", "prompt", "completion"]}
    datasets_info = {
        config: _save_dataset_dict(_to_dataset_dict(frame, columns[config], f"{content}/{config}"), staging / config)
        for config, frame in ((ROWS_DIR, rows), (SFT_DIR, sft))
    }
    if isinstance(quarantine, Future):
        quarantine.result()
    elif isinstance(quarantine, pl.DataFrame):
        quarantine.write_parquet(staging / QUARANTINE_FILE)
    (staging / PACK_FILE).write_bytes(pack.raw)
    for file_name, table in tables.items():
        table.write_parquet(staging / file_name)
    return datasets_info


def _derived_fields(rows: pl.DataFrame, sft: pl.DataFrame, pack: ToolPack) -> dict[str, Any]:
    """The manifest fields computed from the data, after the caller's (they win over a caller's same key)."""
    return {
        "pack": pack.manifest_entry(),
        "used_all": used_all(rows, pack),
        "sft_rows": {split: int((sft["split"] == split).sum()) for split in SPLITS},
        "prompt_templates_sha256": pack.prompts_sha256(),
    }
