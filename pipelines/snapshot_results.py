"""The merged result a snapshot build leaves for the next one: `cache/snapshot/results/<key>/`.

Every build writes its `intent_stats` and `rows` tables as a results entry, keyed by its last file's context key
(which digests every file's cache key, in --logs order) and the options that shape the rows but not the files'
state (--rank, --seed, the test threshold: `snapshot_cache.results_keys`). A later build whose first files are
those files, with those options, takes every intent its other files do not touch from the entry
(`sql/43_touched_intents.sql`, `sql/43_carried.sql`): nothing such an intent depends on has changed.

A build hard-links the entry's files into its own spill folder when it chooses the entry, so a concurrent build
that prunes or replaces it cannot pull it away mid-build, and checks the tables' checksums there: a carried row
passes into every later entry, so a damaged one must not be trusted. Only the newest KEPT_RESULTS entries stay; the
pruning never follows a link out of the store (`own_entries`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databuild.display import visible
from databuild.store import Store
from databuild.store_cleanup import print_warning, remove_tree
from pipelines.snapshot_cache import (
    ENTRY_FILE,
    RESULT_ROW_GROUP_ROWS,
    RESULT_TABLES,
    entry_compression,
    entry_dir,
    entry_problem,
    entry_table,
    own_path,
    put_in_place,
    write_entry_file,
)

KEPT_RESULTS = 4  # a daily build writes one entry a day: the last few days' stay, for a rebuild of one of them


@dataclass(frozen=True)
class CarriedResult:
    folder: Path  # this build's own links to the entry's files
    files: int  # the entry holds the result of the build's first `files` files


def find_carried(store: Store, keys: list[str], private: Path, warn: Callable[[str], None]) -> CarriedResult | None:
    """The result of the longest first part of this build that the cache holds (`keys`: the results key of the
    build's first 1, 2, … files), linked into `private` (a folder of this build's own)."""
    for files in range(len(keys), 0, -1):
        folder = entry_dir(store, "results", keys[files - 1])
        if not own_path(store, folder, warn) or not folder.exists():
            continue
        linked = _linked(folder, private / keys[files - 1])
        if linked is None:
            continue  # pruned or replaced while we looked
        problem = entry_problem(linked, keys[files - 1], RESULT_TABLES)
        if problem is None:
            return CarriedResult(linked, files)
        remove_tree(store.root, folder, warn)  # only a build of exactly its files would write it again
        warn(f"warning: ignoring snapshot cache entry {visible(folder)} ({visible(problem)}); removed it")
    return None


def _linked(folder: Path, target: Path) -> Path | None:
    target.mkdir(parents=True)
    for name in (ENTRY_FILE, *(Path(entry_table(folder, table)).name for table in RESULT_TABLES)):
        try:
            _link_or_copy(folder / name, target / name)
        except FileNotFoundError:
            return None
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def stage_results(cursor: Any, staging: Path, key: str) -> None:
    """Write the build's result (the session tables of RESULT_TABLES, read on `cursor`, a cursor of the build's
    session of its own) into the new folder `staging` as the results entry `key`."""
    staging.mkdir()
    for name, (table, _) in RESULT_TABLES.items():
        cursor.table(table).write_parquet(
            entry_table(staging, name), compression=entry_compression(name), row_group_size=RESULT_ROW_GROUP_ROWS
        )
    write_entry_file(staging, key, RESULT_TABLES)


def keep_results(store: Store, staged: Path, key: str, warn: Callable[[str], None] = print_warning) -> None:
    """Put a staged results entry in place (replacing one of the same key) and prune all but the newest ones,
    never through a link: a link among the entries is removed as a link, with a warning."""
    put_in_place(store, staged, entry_dir(store, "results", key))
    entries = sorted(own_entries(store, "results", warn), key=_written, reverse=True)
    for folder in entries[KEPT_RESULTS:]:
        remove_tree(store.root, folder, warn)


def own_entries(store: Store, kind: str, warn: Callable[[str], None]) -> list[Path]:
    """The entry folders of one cache kind, found without following a link: a link in `<kind>/` or `<kind>/<ab>/`
    is removed as a link, with a warning (and what it points to is left alone)."""
    kind_dir = store.snapshot_cache_dir / kind
    if not own_path(store, kind_dir, warn) or not kind_dir.is_dir():
        return []
    folders = []
    for prefix in sorted(kind_dir.iterdir()):
        if prefix.is_symlink():
            remove_tree(store.root, prefix, warn)
        elif prefix.is_dir():
            for folder in sorted(prefix.iterdir()):
                if folder.is_symlink():
                    remove_tree(store.root, folder, warn)
                elif folder.is_dir():
                    folders.append(folder)
    return folders


def _written(folder: Path) -> float:
    try:
        return (folder / ENTRY_FILE).lstat().st_mtime
    except OSError:
        return 0.0
