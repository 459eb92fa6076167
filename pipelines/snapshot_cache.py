"""The snapshot's per-file cache: what a build needs to merge an input file again without reading it.

Three kinds of entries live in `store/cache/snapshot/`, each a folder of Parquet files plus `entry.json`:

- `files/<key>/`: a file's own state (its candidates, request pairs, events, surfaces, accounting and quarantine),
  keyed by the file's sha256, the options that shape it (the tool pack's sha256, --since/--until, the intent length
  limit), the databuild version and the SQL models that compute it (`model_stage`). It does not depend on the
  other files of the build.
- `contexts/<key>/`: what the file's place in the build adds (its rows that repeat an event of an earlier file,
  their quarantine rows, the request pairs first seen in it), keyed by its file key and those of every file before
  it in --logs order and the models of the context, so appending files leaves every earlier context valid.
- `results/<key>/`: a build's merged result (every intent's stats and the version's rows), keyed by its last
  context key, the merge models and the options that shape the rows; a later build of more files carries the
  intents its new files do not touch from it (`pipelines.snapshot_results`).

An entry is written in the store's `tmp/` and renamed into place, so it exists complete or not at all. Its
`entry.json` records each table's size, rows, columns and xxh3-128 checksum, all checked when a build chooses the
entry (`valid_entry`), before any query reads it: an entry that is unreadable, incomplete, damaged (a byte changed
anywhere), from another version or foreign (reached through a symbolic link, which is removed as a link) is ignored
with a one-line warning and rebuilt: the cache costs speed when lost, never correctness. A table is read whole for
its checksum when it is new to the memo of checked tables (`TableChecksums`), was written to since it was checked
(its change time moved) or was checked RECHECK_DAYS ago, so a daily build reads yesterday's entries and the
week-old ones, not every day's. (xxh3-128 rather than
sha256: it reads 5 GB/s here against sha256's 0.5 GB/s, and a 30-day store holds 825 MB of entries; a checksum
catches damage, and no unkeyed digest stops someone who can rewrite `entry.json` too.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

import databuild
from databuild.display import visible
from databuild.sqlrun import sql_hashes
from databuild.store import Store
from databuild.store_cleanup import link_on_the_way, move_aside, real_folder, remove_tree
from pipelines.input_hashes import DigestMemo, file_identity
from pipelines.inputs import REQUIRED_FIELDS

CACHE_FORMAT = 2  # 2: every table's checksum is recorded and checked
ENTRY_FILE = "entry.json"
CHECKSUM = "xxh3_128"  # the checksum entry.json records per table (`file_checksum`)
# entry table -> (session table, filter on it, or None)
EntryTables = dict[str, tuple[str, str | None]]
FILE_TABLES: EntryTables = {
    "candidates": ("file_candidates", None),
    "requests": ("file_requests", None),
    "events": ("file_events", None),
    "surfaces": ("file_surfaces", None),
    "accounting": ("file_accounting", None),
    "quarantine": ("file_quarantine", "NOT corrected"),
}
CONTEXT_TABLES: EntryTables = {
    "corrections": ("correction_rows", None),
    "correction_quarantine": ("file_quarantine", "corrected"),
    "first_pairs": ("first_pairs", None),
}
RESULT_TABLES: EntryTables = {"intent_stats": ("intent_stats", None), "rows": ("rows", None)}
KIND_TABLES: dict[str, EntryTables] = {"files": FILE_TABLES, "contexts": CONTEXT_TABLES, "results": RESULT_TABLES}
DROPPED_COLUMNS = ("file_order", "corrected")
# entry table -> the order its rows are stored in (the version's quarantine copies a cached file's rows as they are)
ENTRY_ORDER = {"quarantine": "row_key"}  # the line, and the row within a gateway log's line
# entry table -> its Parquet compression, where not zstd. Random 64-bit hashes do not compress: zstd saved 15 % of the
# events' bytes and made reading them back (every later build's duplicate probe, 34_corrections) 40 % slower. Every
# daily build writes a results entry's tables for every intent and reads most of them back (43_carried): lz4, 5 MB
# instead of 3 MB for 50 k intents, a quarter less time on both sides.
ENTRY_COMPRESSION = {"events": "uncompressed", "intent_stats": "lz4", "rows": "lz4"}
# results entry table -> its rows per Parquet row group. The next build reads a results entry whole (43_carried); a
# row group is read by one thread, and DuckDB's default (122,880 rows) leaves 50 k intents in one: a third faster
# read on two threads with 8 k.
RESULT_ROW_GROUP_ROWS = 8192


@dataclass(frozen=True)
class CacheKeys:
    files: list[str]  # per input, in --logs order
    contexts: list[str]


# The models each kind of entry depends on, by their number in the pipeline (`pipelines.snapshot.STEPS`): a file's
# own state is computed by the models up to 31 and by 36-37, which also write its rejected rows; what a file's place
# adds by 32-42 (from the file states); a build's result and its quarantine file by the merge, 43 and after. A
# change to a model invalidates the entries of its kind and of the kinds after it only: a changed merge model reads
# no file again.
FILE_MODELS, CONTEXT_MODELS, MERGE_MODELS = "files", "contexts", "merge"


def model_stage(name: str) -> str:
    """The kind of entry that a SQL model (`sql/NN_<name>.sql`) computes: files, contexts or merge."""
    number = int(name[:2])
    if number <= 31 or number in (36, 37):
        return FILE_MODELS
    return CONTEXT_MODELS if number <= 42 else MERGE_MODELS


def models_digest(stage: str) -> str:
    """The digest of the sha256 of every SQL model of one stage."""
    return _digest({name: sha for name, sha in sql_hashes().items() if model_stage(name) == stage})


def cache_keys(
    shas: list[str], pack_sha256: str, since: datetime | None, until: datetime | None, max_intent_chars: int
) -> CacheKeys:
    """Each file's entry key (its bytes, the shaping options, the code of its models) and context key (it, the files
    before and the code of the context's models)."""
    build = {
        "format": CACHE_FORMAT,
        "databuild": databuild.__version__,
        "sql": models_digest(FILE_MODELS),
        "pack": pack_sha256,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "max_intent_chars": max_intent_chars,
    }
    files = [_digest({**build, "file": sha}) for sha in shas]
    context_sql = models_digest(CONTEXT_MODELS)
    contexts = [_digest({"files": files[: position + 1], "sql": context_sql}) for position in range(len(files))]
    return CacheKeys(files, contexts)


def results_keys(context_keys: list[str], rank: str, seed: int, test_threshold: int) -> list[str]:
    """The results entry key of each first part of a build (its first 1, 2, … files): its last context key (which
    digests every file's key, in order), the code of the merge and the options that shape the rows but not the
    files' state."""
    shaping = {"rank": rank, "seed": str(seed), "test_threshold": str(test_threshold)}
    merge_sql = models_digest(MERGE_MODELS)
    return [_digest({"context": key, "sql": merge_sql, **shaping}) for key in context_keys]


def file_checksum(path: Path) -> str:
    """The xxh3-128 checksum of a regular file's bytes (a link or a device is refused: it is opened no-follow)."""
    import xxhash

    checksum = xxhash.xxh3_128()
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        # one buffer read into again and again: a new bytes object per read costs as much as the hash (fresh pages)
        view = memoryview(bytearray(1 << 20))
        while size := handle.readinto(view):
            checksum.update(view[:size])
    return checksum.hexdigest()


RECHECK_DAYS = 7  # a table checked this many days ago is read whole again: damage beneath the file system, which
# moves no time, is found within a week (a daily store reads about a seventh of its history's tables a day)


class TableChecksums(DigestMemo):
    """The xxh3-128 checksums of the cache's tables already checked, by file identity
    (`cache/snapshot/table_checksums.json`): a table is read whole to be checked when it is new to the memo, was
    written to since (a cache entry is never written to once in place, so that is damage, or another store's copy)
    or was last read RECHECK_DAYS ago, so a daily build checks the entries written since the last build and the
    week-old ones instead of every day's. The identity is the table's own (a link is never followed:
    `_regular_file` refuses it)."""

    algorithm = CHECKSUM
    pattern = re.compile(r"[0-9a-f]{32}:[0-9]{1,9}")  # the checksum and the day it was read (days since 1970)
    without = "checking every cached table"
    max_age_days = RECHECK_DAYS

    def _identity(self, path: Path) -> str:
        return file_identity(path.lstat())

    def _digest(self, path: Path) -> str:
        return file_checksum(path)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def entry_dir(store: Store, kind: str, key: str) -> Path:
    return store.snapshot_cache_dir / kind / key[:2] / key


def entry_table(folder: Path | str, name: str) -> str:
    """The Parquet file of one of an entry's tables (KIND_TABLES), or of the placeholder entry."""
    return str(Path(folder) / f"{name}.parquet")


def valid_entry(
    store: Store, kind: str, key: str, warn: Callable[[str], None], checksums: TableChecksums | None = None
) -> Path | None:
    """The entry's folder when it is complete, undamaged and its own; None when absent; a warning when present but
    unusable (a link on its way, out of the store, is removed as a link, with a warning). `checksums`: the memo of
    tables already checked (None: every table is read and hashed)."""
    return valid_entries(store, [(kind, key)], warn, checksums)[0]


def valid_entries(
    store: Store, wanted: list[tuple[str, str]], warn: Callable[[str], None], checksums: TableChecksums | None = None
) -> list[Path | None]:
    """`valid_entry` of each (kind, key) of `wanted`, in order. The links on the way are dealt with one entry at a
    time; the entries' checks (reading and hashing the tables new to `checksums`) run in threads, their warnings
    given in `wanted`'s order."""
    from concurrent.futures import ThreadPoolExecutor

    folders = [entry_dir(store, kind, key) for kind, key in wanted]
    present = [folder if own_path(store, folder, warn) and folder.exists() else None for folder in folders]

    def problem(folder: Path | None, kind_key: tuple[str, str]) -> str | None:
        return None if folder is None else entry_problem(folder, kind_key[1], KIND_TABLES[kind_key[0]], checksums)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # reads and xxh3 release the GIL
        problems = list(pool.map(problem, present, wanted))
    for folder, found in zip(present, problems, strict=True):
        if found is not None:
            warn(f"warning: ignoring snapshot cache entry {visible(folder)} ({visible(found)}); rebuilding it")
    return [folder if found is None else None for folder, found in zip(present, problems, strict=True)]


def prepare_cache(store: Store, warn: Callable[[str], None]) -> None:
    """Before a build: remove the work folders of killed builds from `tmp/` (`Store.sweep_tmp`), and make sure the
    snapshot cache's folder is the store's own (a link on its way, or at a memo's path, is removed as a link,
    with a warning), so nothing the build writes, moves or prunes there lands out of the store."""
    store.sweep_tmp(warn)
    real_folder(store.root, store.snapshot_cache_dir, warn)
    for memo in (store.input_hashes_path, store.table_checksums_path):
        if own_path(store, memo, warn):
            _memo_file_kept(store, memo, warn)


def _memo_file_kept(store: Store, memo: Path, warn: Callable[[str], None]) -> None:
    """A memo's path that holds a folder (or anything but a file) is removed, with a warning: the memo is
    written there again at the build's end, which a folder in its place would fail."""
    try:
        mode = memo.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        remove_tree(store.root, memo, warn)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        warn(f"warning: removed {visible(memo)} ({kind}, where a memo file belongs); it is written anew")


def own_path(store: Store, path: Path, warn: Callable[[str], None]) -> bool:
    """True when no symbolic link lies on the way from the store's root to `path`. A link found there is foreign
    (the store writes none): it is removed as a link, with a warning, and what it points to is left alone."""
    link = link_on_the_way(store.root, path)
    if link is None:
        return True
    remove_tree(store.root, link, warn)
    return False


def entry_problem(
    folder: Path, key: str, tables: dict[str, Any], checksums: TableChecksums | None = None
) -> str | None:
    """What is wrong with an entry (None: nothing): every table is checked against `entry.json`, its checksum
    included (read whole, or from `checksums` when the file is unchanged since it was), so a damaged byte is found
    here, never deep inside a query that reads the table."""
    import pyarrow.parquet as pq

    try:
        entry = json.loads(_regular_file(folder / ENTRY_FILE).read_text(encoding="utf-8"))
        if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or entry.get("key") != key:
            return "written by another databuild version or for another file"
        for name in tables:
            recorded = entry["tables"][name]
            path = _regular_file(Path(entry_table(folder, name)))
            if path.stat().st_size != recorded["bytes"]:
                return f"{path.name} has the wrong size"
            metadata = pq.read_metadata(path)
            if metadata.num_rows != recorded["rows"] or metadata.schema.names != recorded["columns"]:
                return f"{path.name} does not match its entry"
            checksum = file_checksum(path) if checksums is None else checksums.digest(path)
            if checksum != recorded[CHECKSUM]:
                return f"{path.name} is damaged: its {CHECKSUM} checksum does not match"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable: {exc}"
    except Exception as exc:  # pyarrow raises several types for a damaged Parquet footer
        return f"unreadable: {exc}"
    return None


def _regular_file(path: Path) -> Path:
    """`path`, checked to be a regular file and no link (a link to /dev/zero would never end a read)."""
    if not stat.S_ISREG(path.lstat().st_mode):
        raise ValueError(f"{path.name} is not a regular file")
    return path


def write_entries(con: Any, store: Store, kind: str, targets: dict[int, str], overwrite: bool) -> None:
    """Write one entry per target (file_order -> key) from the session tables, each atomically."""
    tables = KIND_TABLES[kind]
    if not targets:
        return
    with store.workspace("build-cache-") as parts:  # flock-ed: another build's sweep of tmp/ leaves it alone
        for name, (table, condition) in tables.items():
            relation = con.table(table)
            if condition:
                relation = relation.filter(condition)
            relation = relation.project(_kept_columns(relation.columns) + ", file_order")
            if name in ENTRY_ORDER:  # a partitioned write keeps no order within a part: one ordered write per file
                for order in targets:
                    folder = parts / name / f"file_order={order}"
                    folder.mkdir(parents=True)
                    rows = relation.filter(f"file_order = {int(order)}").order(ENTRY_ORDER[name])
                    rows = rows.project(_kept_columns(rows.columns))
                    rows.write_parquet(str(folder / "rows.parquet"), compression=entry_compression(name))
            else:
                compression = entry_compression(name)
                relation.write_parquet(str(parts / name), partition_by=["file_order"], compression=compression)
        for order, key in targets.items():
            _publish_entry(con, store, kind, key, order, parts, tables, overwrite)


def entry_compression(table: str) -> str:
    return ENTRY_COMPRESSION.get(table, "zstd")


def _publish_entry(
    con: Any, store: Store, kind: str, key: str, order: int, parts: Path, tables: dict[str, Any], overwrite: bool
) -> None:
    """Stage an entry in the store's tmp/ and rename it into place: it exists complete or not at all."""
    final = entry_dir(store, kind, key)
    if final.exists() and not overwrite and entry_problem(final, key, tables) is None:
        return  # the same bytes at two positions, or a concurrent build: already there
    with store.workspace("build-entry-") as staging:
        _stage_entry(con, staging, key, order, parts, tables)
        put_in_place(store, staging, final)


def put_in_place(store: Store, staged: Path, final: Path) -> None:
    """Rename a staged entry to `final`. An entry already there is first moved aside into tmp/ and removed there,
    so a build reading it never meets a half-removed folder. Nothing is moved through a link: a link on the way or
    at `final` is removed as a link, with a warning (`databuild.store_cleanup`)."""
    real_folder(store.root, final.parent)
    with store.workspace("build-old-entry-") as trash:
        move_aside(store.root, final, trash / final.name)  # none there, or another build moved it aside first
        try:
            os.rename(staged, final)
        except OSError:
            if not final.exists():
                raise
            # else another build renamed the same entry first


def _stage_entry(con: Any, staging: Path, key: str, order: int, parts: Path, tables: dict[str, Any]) -> None:
    for name, (table, _) in tables.items():
        target = Path(entry_table(staging, name))
        written = sorted((parts / name / f"file_order={order}").glob("*.parquet"))
        if len(written) == 1:
            os.replace(written[0], target)
        elif written:  # several parts: one file
            con.read_parquet([str(w) for w in written]).write_parquet(str(target), compression=entry_compression(name))
        else:  # no rows for this file: an empty file with the table's columns
            relation = con.table(table).filter("false")
            relation = relation.project(_kept_columns(relation.columns))
            relation.write_parquet(str(target), compression=entry_compression(name))
    write_entry_file(staging, key, tables)


def write_entry_file(staging: Path, key: str, tables: dict[str, Any]) -> None:
    """`entry.json`: the key, and each table's size, rows, columns and checksum (checked before the entry is used)."""
    import pyarrow.parquet as pq

    recorded = {}
    for name in tables:
        target = Path(entry_table(staging, name))
        metadata = pq.read_metadata(target)
        recorded[name] = {"bytes": target.stat().st_size, "rows": metadata.num_rows, "columns": metadata.schema.names}
        recorded[name][CHECKSUM] = file_checksum(target)
    entry = {"format": CACHE_FORMAT, "key": key, "tables": recorded}
    (staging / ENTRY_FILE).write_text(json.dumps(entry, indent=1) + "\n", encoding="utf-8")


def _kept_columns(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns if c not in DROPPED_COLUMNS)


def write_placeholders(folder: Path) -> dict[str, str]:
    """Empty Parquet files for the models' read_parquet lists, which must name at least one file: `no_logs`, the raw
    fields as text (parquet_globs when no Parquet file is read), and `no_entry`, a folder with an entry's tables of
    one column `no_entry` (the last item of every list of cache entries)."""
    entry = folder / "no_entry"
    entry.mkdir(parents=True, exist_ok=True)
    for name in {name for tables in KIND_TABLES.values() for name in tables}:
        pl.DataFrame(schema={"no_entry": pl.Boolean}).write_parquet(entry_table(entry, name))
    logs = folder / "no_logs.parquet"
    pl.DataFrame(schema=dict.fromkeys(REQUIRED_FIELDS, pl.String)).write_parquet(logs)
    return {"no_logs": str(logs), "no_entry": str(entry)}


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def cache_summary(store: Store) -> str:
    """One line for `databuild show`: the snapshot cache's size on disk."""
    size, files = cache_disk_bytes(store)
    return f"snapshot cache: {human_bytes(size)} for {files} input files in {visible(store.snapshot_cache_dir)}"


def cache_disk_bytes(store: Store) -> tuple[int, int]:
    """(bytes on disk, number of file entries) of the snapshot cache."""
    root = store.snapshot_cache_dir
    if not root.is_dir():
        return 0, 0
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    files = root / "files"
    entries = sum(1 for _ in files.glob("*/*")) if files.is_dir() else 0
    return total, entries
