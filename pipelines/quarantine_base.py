"""Which version's quarantine file already holds the beginning of a build's quarantine.

A daily build names yesterday's files and one more. When its first files are the files of an earlier build, in
the same order, at the same paths, with the same options and code, and every later path sorts after theirs, the
quarantine that build's version holds is the beginning of the new one (the quarantine is in path order, and an
appended file changes nothing in the files before it). The new build then copies that file and appends its new
files' rows (`pipelines.parquet_append`) instead of writing the whole history's rejected records again.

Memos live in `cache/snapshot/quarantines/<key>.json`: the version, and the size, inode and modification time its
quarantine file had when the memo was written. The key digests the build's last context key (which digests every
file's cache key, in order), the merge models (a changed 70_quarantine_of writes another quarantine) and the
paths. A memo whose file is gone or changed is not used; an unreadable or damaged one (its own checksum, over its
fields, does not match), a link, or one whose quarantine file's checksum no longer matches (a byte changed,
whatever its size and time) is ignored with a warning. Like the rest of the cache, it costs speed when lost, never
correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from databuild.display import visible
from databuild.store import Store, atomic_write_text
from databuild.store_cleanup import real_folder, remove_tree
from pipelines.snapshot_cache import CHECKSUM, MERGE_MODELS, TableChecksums, models_digest, own_path

MEMO_FORMAT = 2  # 2: the memo's own checksum and its quarantine file's


@dataclass(frozen=True)
class QuarantineBase:
    path: Path  # a version's quarantine.parquet
    files: int  # it holds the quarantine of the build's first `files` files


def memo_keys(context_keys: list[str], paths: list[str]) -> list[str]:
    """The memo key of each first part of a build (its first 1, 2, … files): its last context key (which digests
    every file's cache key, in order), the code of the merge (which assembles the quarantine: 70_quarantine_of)
    and a running digest of its paths."""
    merge_sql = models_digest(MERGE_MODELS)
    running = hashlib.sha256()
    keys = []
    for context_key, path in zip(context_keys, paths, strict=True):
        running.update(json.dumps(path).encode() + b"\n")
        key = f"{MEMO_FORMAT}/{context_key}/{merge_sql}/{running.hexdigest()}"
        keys.append(hashlib.sha256(key.encode()).hexdigest())
    return keys


def find_base(
    store: Store, context_keys: list[str], paths: list[str], warn: Callable[[str], None], checksums: TableChecksums
) -> QuarantineBase | None:
    """The longest first files of this build whose quarantine a version already holds, when the rest sort after
    (its checksum read whole, or from `checksums` when the file is unchanged since it was)."""
    if len(set(paths)) != len(paths):  # a file named twice: its lines of both places interleave
        return None
    keys = memo_keys(context_keys, paths)
    largest = list(accumulate(paths, max))  # the largest path among the first 1, 2, … files
    later = paths[-1]  # the smallest path after the first `files` files
    for files in range(len(paths) - 1, 0, -1):
        if largest[files - 1] < later:
            base = _recalled(store, keys[files - 1], files, warn, checksums)
            if base is not None:
                return base
        later = min(later, paths[files - 1])
    return None


def remember(store: Store, context_keys: list[str], paths: list[str], version: str, checksums: TableChecksums) -> None:
    """Note that `version`'s quarantine file, which this build wrote, is the quarantine of this build."""
    path = store.quarantine_path(version)
    if not path.is_file():
        return
    import pyarrow.parquet as pq

    stat = path.stat()
    memo = {"format": MEMO_FORMAT, "version": version, "rows": pq.read_metadata(path).num_rows,
            "bytes": stat.st_size, "inode": stat.st_ino, "mtime_ns": stat.st_mtime_ns,
            CHECKSUM: checksums.digest(path)}  # fmt: skip
    real_folder(store.root, store.quarantine_memo_dir)  # a link there is removed, never written through
    key = memo_keys(context_keys, paths)[-1]
    written = {**memo, "memo": memo_checksum(memo)}
    atomic_write_text(store.quarantine_memo_dir / f"{key}.json", json.dumps(written) + "\n")


def memo_checksum(memo: dict[str, object]) -> str:
    """The memo's own checksum: a sha256 of its other fields."""
    return hashlib.sha256(json.dumps(memo, sort_keys=True).encode()).hexdigest()


def _recalled(
    store: Store, key: str, files: int, warn: Callable[[str], None], checksums: TableChecksums
) -> QuarantineBase | None:
    memo_path = store.quarantine_memo_dir / f"{key}.json"
    if not own_path(store, memo_path, warn) or not memo_path.is_file():
        return None
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
        if memo["format"] != MEMO_FORMAT:
            raise ValueError("written by another databuild version")
        if memo.pop("memo") != memo_checksum(memo):
            raise ValueError("damaged: its checksum does not match")
        if memo["version"] not in store.version_names():
            return None  # the version is gone
        path = store.quarantine_path(memo["version"])
        rows = int(memo["rows"])
        recorded = (int(memo["bytes"]), int(memo["inode"]), int(memo["mtime_ns"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _forget(store, memo_path, str(exc), warn)
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None  # the version is gone
    if (stat.st_size, stat.st_ino, stat.st_mtime_ns) != recorded or _rows(path) != rows:
        return None  # not the file the memo saw
    if checksums.digest(path) != memo[CHECKSUM]:
        _forget(store, memo_path, f"{path} is damaged: its {CHECKSUM} checksum does not match the memo's", warn)
        return None
    return QuarantineBase(path, files)


def _forget(store: Store, memo_path: Path, problem: str, warn: Callable[[str], None]) -> None:
    """Remove a memo that cannot be used (only a build of exactly its files would write it again), with a warning."""
    remove_tree(store.root, memo_path, warn)
    warn(f"warning: ignoring snapshot cache memo {visible(memo_path)} ({visible(problem)}); removed it")


def _rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception:  # pyarrow raises several types for a damaged footer
        return None
