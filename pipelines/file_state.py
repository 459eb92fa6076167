"""One input file's snapshot state, computed alone: its `files` cache entry (`pipelines.snapshot_cache`).

A file's entry (its candidates, request pairs, events, surfaces, accounting and own quarantine: models 01-37) does
not depend on the other files of a build, so it can be computed anywhere that sees the file: in this process, one
batch of files at a time (the local build), or one file per Spark task (`pipelines.spark_executor`). Both go
through `pipelines.snapshot.read_file_states`, so the two cannot drift. An executor computes the entries the cache
lacks before the merge; the merge then reads them from the cache as it reads any earlier build's entries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from databuild.display import visible
from databuild.normalize import MAX_INTENT_CHARS
from databuild.pack import ToolPack
from databuild.sqlrun import connect
from databuild.store import Store
from pipelines.gateway import SideInputs, load_side_inputs
from pipelines.input_hashes import InputHashes
from pipelines.inputs import InputFile
from pipelines.snapshot import (
    FilePlan,
    Reading,
    SnapshotOptions,
    default_memory_limit,
    default_threads,
    read_file_states,
    validate,
)
from pipelines.snapshot_cache import cache_keys, entry_dir, valid_entry, write_placeholders


class FileExecutor(Protocol):
    """Computes the `files` entries of a build's files that the cache lacks (`FilePlan.read`) into the store's
    cache, then marks them cached (`take_computed`); returns the manifest's `executor` record."""

    def compute_entries(
        self, store: Store, plan: list[FilePlan], pack: ToolPack, options: SnapshotOptions, warn: Callable[[str], None]
    ) -> dict[str, Any]: ...


def file_key(item: InputFile, pack: ToolPack, options: SnapshotOptions, side: SideInputs) -> str:
    """The `files` entry key of `item` under these options (as `pipelines.snapshot._plan` computes it)."""
    since, until = validate(options)
    return cache_keys([side.file_key(item)], pack.sha256, since, until, MAX_INTENT_CHARS).files[0]


def compute_file_entry(
    item: InputFile,
    pack: ToolPack,
    options: SnapshotOptions,
    store: Store,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> Path:
    """Compute `item`'s `files` entry alone and write it into `store`'s cache (atomically: complete or absent);
    publishes nothing else. An entry already there and valid is kept (with `options.full`: replaced). DuckDB runs
    with `memory_limit` (default: `options.memory_limit`, else the machine's default) and `threads` (default: the
    cores this process may use), spilling into the store's tmp/. Returns the entry's folder."""
    since, until = validate(options)
    side = load_side_inputs(options.gateway_settings(), InputHashes(None))  # outcomes, the Batch API input
    key = file_key(item, pack, options, side)
    plan = [FilePlan(item, key, context_key="", entry=None, context=None, read=True)]
    sessions: list[Any] = []
    with store.workspace("duckdb-") as spill_dir:

        def open_session() -> Any:
            con = connect(
                memory_limit=memory_limit or options.memory_limit or default_memory_limit(),
                threads=threads or default_threads(),
                temp_directory=str(spill_dir),
                pack=pack,
            )
            sessions.append(con)
            return con

        try:
            placeholders = write_placeholders(spill_dir / "placeholders")
            reading = Reading(store, options, (since, until), placeholders, open_session, side=side)
            read_file_states(reading, plan, lambda step: None)
        finally:
            for con in sessions:
                con.close()
    return entry_dir(store, "files", key)


def take_computed(store: Store, plan: list[FilePlan], warn: Callable[[str], None]) -> list[FilePlan]:
    """After an executor ran: each file to read whose entry is now complete in the cache is merged from it (and
    counted as read by this build); a file whose entry is lost or half-written stays to be read here (warned).
    Returns the files left to read."""
    left = []
    for p in plan:
        if not p.read:
            continue
        entry = valid_entry(store, "files", p.key, warn)
        if entry is None:
            if not entry_dir(store, "files", p.key).exists():
                warn(f"warning: no cache entry came back for {visible(p.item.path)}; reading it here")
            left.append(p)
        else:
            p.entry, p.read, p.read_in_batch = entry, False, True
    return left
