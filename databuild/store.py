"""The store: `versions/vN/` dataset versions, `runs/` trained students, `cache/` (embeddings, LLM replies).

Layout of one version (a contract other tools rely on):
`versions/vN/{rows/, sft/, quarantine.parquet, pack.json, manifest.json, README.md}`, and a snapshot's
`intent_pool.parquet` (`pack.json`: the tool pack file the version was built with, byte for byte; versions from
before tool packs have none and use the colour pack).
A version is built in `tmp/` and renamed into place under the store lock, so it appears complete or not at all;
`tmp/` work folders of killed processes are swept before every build and publication (`Store.sweep_tmp`). The store
never deletes or moves through a symbolic link (`databuild.store_cleanup`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from databuild.errors import DatabuildError
from databuild.pack import ToolPack, stored_pack
from databuild.store_cleanup import print_warning, real_folder, remove_tree

_VERSION_NAME = re.compile(r"^v([1-9][0-9]*)$")
# The files of a version directory (README "Store layout"); nothing else names them.
ROWS_DIR = "rows"
SFT_DIR = "sft"
QUARANTINE_FILE = "quarantine.parquet"
REJECTED_FILE = "rejected.parquet"
PACK_FILE = "pack.json"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "README.md"
INTENT_POOL_FILE = "intent_pool.parquet"
LOCK_FILE = ".lock"
WORKSPACES_LOCK = ".workspaces.lock"  # beside LOCK_FILE (see Store.workspace)
LAST_FAILED_DIR = "last-failed"  # in tmp/: no work folder, the sweep leaves it
# the manifest fields readers rely on, with the JSON types they must have when present
MANIFEST_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "fingerprint": str,
    "parent": (str, type(None)),
    "created_at": str,
    "command": str,
    "parameters": dict,
    "inputs": list,
    "sql": dict,
    "accounting": dict,
    "intents": dict,
    "pack": dict,
    "used_all": dict,
    "sft_rows": dict,
    "augmentation": dict,
}


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def version_names(self) -> list[str]:
        """Complete versions, oldest first (`v2` before `v10`)."""
        if not self.versions_dir.is_dir():
            return []
        found = [
            (int(m.group(1)), p.name)
            for p in self.versions_dir.iterdir()
            if (m := _VERSION_NAME.match(p.name)) and (p / MANIFEST_FILE).is_file()
        ]
        return [name for _, name in sorted(found)]

    def broken_versions(self) -> list[tuple[str, str]]:
        """The version folders `version_names` leaves out because their manifest is not a file it can read, oldest
        first, each with what is wrong (a manifest that is a folder, a link to a device, missing …)."""
        if not self.versions_dir.is_dir():
            return []
        complete = set(self.version_names())
        found = [
            (int(m.group(1)), p.name, _version_problem(p))
            for p in self.versions_dir.iterdir()
            if (m := _VERSION_NAME.match(p.name)) and p.name not in complete
        ]
        return [(name, problem) for _, name, problem in sorted(found)]

    def latest(self) -> str | None:
        names = self.version_names()
        return names[-1] if names else None

    def latest_from_logs(self) -> str | None:
        """The newest version built from logs (its manifest lists inputs): a new snapshot's parent."""
        for name in reversed(self.version_names()):
            if self.manifest(name).get("inputs"):
                return name
        return None

    def version_dir(self, name: str) -> Path:
        return self.versions_dir / name

    def rows_dir(self, version: str) -> Path:
        return self.version_dir(version) / ROWS_DIR

    def sft_dir(self, version: str) -> Path:
        return self.version_dir(version) / SFT_DIR

    def quarantine_path(self, version: str) -> Path:
        return self.version_dir(version) / QUARANTINE_FILE

    def rejected_path(self, version: str) -> Path:
        return self.version_dir(version) / REJECTED_FILE

    def card_path(self, version: str) -> Path:
        return self.version_dir(version) / CARD_FILE

    # Every path of the cache lives here (README "Store layout"); nothing else joins store paths by hand.
    @property
    def embeddings_dir(self) -> Path:
        return self.cache_dir / "embeddings"

    @property
    def llm_cache_dir(self) -> Path:
        return self.cache_dir / "llm"

    @property
    def models_dir(self) -> Path:
        """Checkpoints converted from GGUF files (`train --model smollm2-135m`)."""
        return self.cache_dir / "models"

    @property
    def snapshot_cache_dir(self) -> Path:
        """The snapshot's per-input-file state (`pipelines/snapshot_cache.py`)."""
        return self.cache_dir / "snapshot"

    @property
    def input_hashes_path(self) -> Path:
        """The sha256 of the input files seen, by their identity and metadata: a build hashes only new files."""
        return self.snapshot_cache_dir / "input_hashes.json"

    @property
    def table_checksums_path(self) -> Path:
        """The checksums of the cache's tables already checked, by their identity: a build reads only new tables."""
        return self.snapshot_cache_dir / "table_checksums.json"

    @property
    def quarantine_memo_dir(self) -> Path:
        """Which version's quarantine file holds the quarantine of which build (`pipelines/quarantine_base.py`)."""
        return self.snapshot_cache_dir / "quarantines"

    @property
    def last_failed_quarantine_path(self) -> Path:
        """The quarantine of the last build that failed; `last-failed/` is no work directory, so the tmp sweep
        leaves it alone."""
        return self.tmp_dir / LAST_FAILED_DIR / QUARANTINE_FILE

    @property
    def sample_path(self) -> Path:
        """The embedded simulated sample (`make run`, `snapshot` without --logs)."""
        return self.cache_dir / "sample" / "teacher_logs.jsonl.gz"

    def legacy_intent_pool_path(self, version: str) -> Path:
        """Where a store written before the pool moved into the version keeps it."""
        return self.cache_dir / "intent_pool" / f"{version}.parquet"

    def intent_pool_path(self, version: str) -> Path:
        """A snapshot's intent pool (the intents it excluded): inside the version; in `cache/intent_pool/` for a
        store written before the pool moved there."""
        inside = self.version_dir(version) / INTENT_POOL_FILE
        return inside if inside.is_file() else self.legacy_intent_pool_path(version)

    def resolve(self, name: str | None) -> str:
        """A version name given by the user (None = newest), checked to exist."""
        names = self.version_names()
        if not names:
            raise DatabuildError(f"store {self.root} has no dataset versions yet (run `databuild snapshot`)")
        if name is None:
            return names[-1]
        if name not in names:
            raise DatabuildError(f"no version {name!r} in store {self.root} (have: {', '.join(names)})")
        return name

    def version_summaries(self) -> list[dict[str, Any]]:
        """Per version, oldest first: name, created_at, parent, train_rows, test_rows, fingerprint (from its
        manifest; null where a manifest lacks one)."""
        summaries = []
        for name in self.version_names():
            manifest = self.manifest(name)
            used = manifest.get("used_all", {})
            summaries.append(
                {
                    "name": name,
                    "created_at": manifest.get("created_at"),
                    "parent": manifest.get("parent"),
                    "train_rows": used.get("train", {}).get("rows"),
                    "test_rows": used.get("test", {}).get("rows"),
                    "fingerprint": manifest.get("fingerprint"),
                }
            )
        return summaries

    def manifest(self, name: str) -> dict[str, Any]:
        path = self.version_dir(name) / MANIFEST_FILE
        manifest = read_json_object(path)
        for key, kinds in MANIFEST_FIELDS.items():
            if key in manifest and not isinstance(manifest[key], kinds):
                raise DatabuildError(f"{path} is corrupt: {key!r} holds a JSON {_json_type(manifest[key])}")
        for outer, inner in (("accounting", "quarantined"), ("intents", "excluded")):
            if not isinstance(manifest.get(outer, {}).get(inner, {}), dict):
                raise DatabuildError(f"{path} is corrupt: '{outer}.{inner}' must map reasons to counts")
        used_all = manifest.get("used_all", {}).values()
        if not all(isinstance(c, dict) and all(_is_count(n) for n in c.values()) for c in used_all):
            raise DatabuildError(f"{path} is corrupt: 'used_all' must map each split to its counts")
        return manifest

    def pack(self, name: str) -> ToolPack:
        """The tool pack a version was built with (every command reads it from the version, never from a flag)."""
        path = self.version_dir(name) / PACK_FILE
        recorded = (self.manifest(name).get("pack") or {}) if path.is_file() else {}
        return stored_pack(path, recorded.get("name"))

    def find_fingerprint(self, fingerprint: str) -> str | None:
        for name in self.version_names():
            if self.manifest(name).get("fingerprint") == fingerprint:
                return name
        return None

    def lineage(self, name: str) -> list[str]:
        """`name`, its parent, its parent's parent … up to the first version."""
        chain: list[str] = []
        current: str | None = name
        while current and current not in chain and (self.version_dir(current) / MANIFEST_FILE).is_file():
            chain.append(current)
            current = self.manifest(current).get("parent")
        return chain

    def source_snapshot(self, name: str) -> str:
        """The snapshot a version grew from: the nearest in its lineage built from logs (its manifest has inputs)."""
        chain = self.lineage(name)
        for ancestor in chain:
            if self.manifest(ancestor).get("inputs"):
                return ancestor
        return chain[-1]

    @contextmanager
    def lock(self, timeout: float | None = None, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Exclusive store lock: version allocation and renames happen under it.

        When another process holds it, `on_wait` (default: a line on stderr) hears "waiting for the store lock
        held by pid N"; after `timeout` seconds (None: no limit) the wait ends with a DatabuildError.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        with _open_lock_file(path) as handle:
            _acquire(handle, path, timeout, on_wait or _print_wait)
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")  # who holds it, for the message above
                handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temporary directory inside the store (same filesystem, so a rename is atomic)."""
        with self.workspace("build-") as path:
            path.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the version it becomes is as readable as the rest
            yield path

    @contextmanager
    def workspace(self, prefix: str) -> Iterator[Path]:
        """A fresh directory in `tmp/`, flock-ed while in use: `sweep_tmp` removes it once its process is gone.

        It is created and locked under a shared lock of `tmp/` that a sweep takes exclusively, so a sweep never
        meets a work folder between its creation and its lock."""
        with self._workspaces_lock(fcntl.LOCK_SH):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp_dir))
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            fcntl.flock(fd, fcntl.LOCK_EX)  # on the inode: it follows the directory through a rename
        try:
            yield path
        finally:
            try:
                remove_tree(self.root, path)
            finally:
                os.close(fd)

    @contextmanager
    def _workspaces_lock(self, operation: int) -> Iterator[None]:
        """`STORE/.workspaces.lock`: shared while a work folder is created and locked, exclusive while swept."""
        real_folder(self.root, self.tmp_dir)
        descriptor = open_no_follow(self.root / WORKSPACES_LOCK, os.O_RDWR)
        try:
            fcntl.flock(descriptor, operation)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def sweep_tmp(self, warn: Callable[[str], None] = print_warning) -> list[str]:
        """Remove every work folder in `tmp/` whose process is gone (a killed build's `duckdb-*`, `build-*`,
        `build-results-*` …, whatever its kind): a folder in use is flock-ed by its process. `last-failed/` stays;
        a link is removed as a link, with a warning. Returns the names removed."""
        if not self.tmp_dir.is_dir() and not self.tmp_dir.is_symlink():
            return []
        removed: list[str] = []
        with self._workspaces_lock(fcntl.LOCK_EX):
            for path in sorted(self.tmp_dir.iterdir()):
                if path.is_symlink():
                    remove_tree(self.root, path, warn)
                elif path.is_dir() and path.name != LAST_FAILED_DIR and _owner_gone(path):
                    remove_tree(self.root, path, warn)
                    removed.append(path.name)
        return removed

    def next_version_name(self) -> str:
        names = self.version_names()
        taken = {int(p.name[1:]) for p in self.versions_dir.glob("v*") if _VERSION_NAME.match(p.name)}
        number = max([int(n[1:]) for n in names] + list(taken) + [0]) + 1
        return f"v{number}"


def _owner_gone(folder: Path) -> bool:
    """A work folder's lock is free: the process that made it is gone."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False  # gone meanwhile, or not ours to open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live build
    finally:
        os.close(fd)
    return True


def _open_lock_file(path: Path) -> Any:
    """The store's lock file, opened for `flock` (created when missing)."""
    if path.is_dir():
        raise DatabuildError(f"store {path.parent} is damaged: its lock file {path} is a directory (remove it)")
    try:
        return open(path, "a+")  # noqa: SIM115 (the caller's `with` closes it)
    except OSError as exc:
        raise DatabuildError(f"cannot open the store lock file {path}: {exc.strerror or exc}") from None


def _version_problem(folder: Path) -> str:
    """What keeps a version folder from being read (its manifest is not a regular file)."""
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder} is not a directory" if not folder.is_symlink() else f"{folder} is a symbolic link"
    manifest = folder / MANIFEST_FILE
    if manifest.is_symlink():
        target = os.readlink(manifest)
        if not manifest.exists():
            return f"its {MANIFEST_FILE} is a link to {target}, which does not exist"
        if not manifest.is_file():
            return f"its {MANIFEST_FILE} is a link to {target}, which is not a regular file"
    if manifest.is_dir():
        return f"its {MANIFEST_FILE} is a directory, not a file"
    if not manifest.exists():
        return f"it has no {MANIFEST_FILE}"
    return f"its {MANIFEST_FILE} is not a regular file"


def _acquire(handle: Any, path: Path, timeout: float | None, on_wait: Callable[[str], None]) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    handle.seek(0)
    holder = handle.read().strip() or "unknown"
    on_wait(f"waiting for the store lock held by pid {holder}")
    if timeout is None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise DatabuildError(
                    f"gave up after {timeout:g} s waiting for the store lock held by pid {holder} ({path})"
                ) from None
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))


def _print_wait(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def open_store(root: Path | str) -> Store:
    """The store at `root` (it need not exist yet; a file or anything else that is not a folder is refused)."""
    path = Path(root)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise DatabuildError(f"--store {path} is not a directory")
    above = _nearest_existing(path.absolute().parent)
    if not above.is_dir():
        raise DatabuildError(f"--store {path} cannot be created: {above} is a file, not a directory")
    for folder in ("versions", "runs", "cache", "tmp"):
        if ((path / folder).exists() or (path / folder).is_symlink()) and not (path / folder).is_dir():
            raise DatabuildError(f"store {path} is damaged: {path / folder} is not a directory")
    return Store(path)


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a file of the store; anything else is a DatabuildError that names the file."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise DatabuildError(f"cannot read {path}: {exc.strerror or exc}") from None
    except RecursionError:
        raise DatabuildError(f"{path} is corrupt: nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise DatabuildError(f"{path} is corrupt: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DatabuildError(f"{path} is corrupt: a JSON {_json_type(data)}, not an object")
    return data


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """A failure to read the data at `path` (a version's rows/, sft/ …) becomes a DatabuildError that names it."""
    try:
        yield
    except DatabuildError:
        raise
    except Exception as exc:  # pyarrow, polars, datasets and json each raise their own types
        detail = " ".join(str(exc).split("\n\n")[0].split()) or type(exc).__name__
        raise DatabuildError(f"{path} is corrupt or incomplete ({detail})") from None


def _nearest_existing(folder: Path) -> Path:
    """`folder` or its nearest ancestor that exists (or is a link)."""
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable_file(path: Path, option: str) -> None:
    """Before the work: `path` can be written as a file (`atomic_write_text` makes its missing folders)."""
    if path.is_dir():
        raise DatabuildError(f"{option} {path} is a directory, not a file")
    _check_can_create_in(path, path.absolute().parent, option)


def check_writable_dir(path: Path, option: str) -> None:
    """Before the work: `path` is a directory files can be written into, or one that can be created."""
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise DatabuildError(f"{option} {path} is a file, not a directory")
    _check_can_create_in(path, path.absolute(), option)


def _check_can_create_in(path: Path, folder: Path, option: str) -> None:
    """A file can be created in `folder`, or in its nearest existing ancestor when it is missing (tried for real,
    with a temporary file: permissions alone do not tell, e.g. in /proc or on a read-only mount)."""
    folder = _nearest_existing(folder)
    if not folder.is_dir():
        raise DatabuildError(f"{option} {path}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabuildError(f"{option} {path}: no permission to write in {folder}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".databuild-probe-", dir=folder)
    except OSError as exc:
        raise DatabuildError(f"{option} {path}: cannot create files in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` atomically when the block ends (nothing changes on an error).

    Readers see the old or the new content, never half of it. The content goes to a fresh temporary file created
    exclusively (never an existing file or a planted link) and renamed over `path`; a rename replaces a link at
    `path` itself, never the file it points to. The file gets the umask's permissions, like any other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # mkstemp creates 0600
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    with replacing(path) as handle:
        handle.write(text.encode("utf-8"))


def open_no_follow(path: Path, flags: int) -> int:
    """`os.open(path, flags | O_CREAT | O_NOFOLLOW)` (umask permissions): a link at `path` is refused with a
    DatabuildError, never followed, so a store file never writes outside the store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise


def refuse_link(path: Path) -> None:
    """A file databuild appends to must not be a symbolic link."""
    if path.is_symlink():
        raise DatabuildError(f"{path} is a symbolic link: databuild does not write through links")


def append_bytes(path: Path, data: bytes, fresh_line: bool = False) -> None:
    """Append `data` with one unbuffered write, refusing a link at `path` (`open_no_follow`).

    `fresh_line`: start on a new line when the file does not end with one (a line torn by a killed writer).
    """
    descriptor = open_no_follow(path, os.O_RDWR | os.O_APPEND)
    try:
        size = os.fstat(descriptor).st_size
        if fresh_line and size and os.pread(descriptor, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(descriptor, data)
    finally:
        os.close(descriptor)
