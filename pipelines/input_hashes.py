"""Digests of files already read whole, so that a daily build reads only what is new, not the whole history.

Two memos of one kind (`DigestMemo`), both caches in the store:
- `InputHashes` (`cache/snapshot/input_hashes.json`): the sha256 of input files, so a daily build hashes the new day;
- `pipelines.snapshot_cache.TableChecksums` (`cache/snapshot/table_checksums.json`): the xxh3-128 of the cache's
  tables, so a daily build checks the entries written since the last build, not every day's again.

A file is known by its device, inode, size, modification and change times (`st_ctime` cannot be set back by a
user): any write to the file changes one of them, and the file is read whole again. Unreadable, damaged (its
checksum, a sha256 of its map, does not match) or not a regular file, a memo is ignored with a one-line warning;
lost, it costs one read of every file. (A wrong digest in it would give a file another file's cache entries, or pass
a damaged table: the checksum is what keeps a damaged memo out.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

from databuild.display import visible
from databuild.store import atomic_write_text

MEMO_FORMAT = 2  # 2: with the checksum of its map
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_ENTRIES = 100_000  # about 10 MB of JSON; the oldest entries go first
MAX_MEMO_BYTES = 64 << 20  # a bigger file is not one this code wrote: it is ignored, not read into memory


def file_identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DigestMemo:
    """A digest by file identity, read from and written back to one JSON file. A kind of memo names its digest
    (the key of the map in the file), what a digest looks like and how to compute one (`_digest`)."""

    algorithm: str
    pattern: re.Pattern[str]  # of a digest as the memo stores it
    without: str  # what a build does when the memo cannot be used
    max_age_days: int | None = None  # a digest older than this is read again (its file read whole); None: never

    def __init__(self, path: Path | None, warn: Callable[[str], None] = lambda message: None) -> None:
        self.path = path
        self.known: dict[str, str] = self._load(warn) if path else {}
        self.changed = False
        self.vouched = 0  # digests given from the memo, without reading their file
        self._lock = threading.Lock()  # digests are asked for from several threads at once

    def _load(self, warn: Callable[[str], None]) -> dict[str, str]:
        assert self.path is not None
        try:
            found = self.path.lstat()
            if not stat.S_ISREG(found.st_mode):
                raise ValueError("not a regular file")
            if found.st_size > MAX_MEMO_BYTES:
                raise ValueError(f"{found.st_size} bytes, more than a memo holds")
            memo = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested beyond Python's stack
            warn(f"warning: ignoring {visible(self.path)} ({visible(str(exc))}); {self.without}")
            return {}
        digests = memo.get(self.algorithm) if isinstance(memo, dict) and memo.get("format") == MEMO_FORMAT else None
        if not isinstance(digests, dict) or not all(
            isinstance(v, str) and self.pattern.fullmatch(v) for v in digests.values()
        ):
            warn(f"warning: ignoring {visible(self.path)} (not a memo of this databuild); {self.without}")
            return {}
        if memo.get("checksum") != _checksum(digests):
            problem = "damaged: its checksum does not match"
            warn(f"warning: ignoring {visible(self.path)} ({problem}); {self.without}")
            return {}
        return digests

    def _identity(self, path: Path) -> str:
        return file_identity(path.stat())

    def _digest(self, path: Path) -> str:
        raise NotImplementedError

    def digest(self, path: Path) -> str:
        """The file's digest: from the memo when the file is unchanged since it was read (and read less than
        `max_age_days` ago), else read whole."""
        before = self._identity(path)
        with self._lock:
            if (known := self.known.pop(before, None)) is not None:
                self.known[before] = known  # most recently used last: the oldest go first when the memo is full
                digest, read_on = self._split(known)
                if self.max_age_days is None or _today() - read_on < self.max_age_days:
                    self.vouched += 1
                    return digest
        digest = self._digest(path)
        if self._identity(path) == before:  # not written to while it was read
            with self._lock:
                self.known[before] = digest if self.max_age_days is None else f"{digest}:{_today()}"
                self.changed = True
        return digest

    def _split(self, known: str) -> tuple[str, int]:
        """(digest, the day it was read) of a stored value; the day is only stored with a `max_age_days`."""
        if self.max_age_days is None:
            return known, 0
        digest, _, day = known.partition(":")
        return digest, int(day)

    def forget(self) -> None:
        """Drop every digest: each file is read whole again (and the memo rewritten from what is read)."""
        with self._lock:
            self.known.clear()
            self.vouched = 0
            self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        with self._lock:
            kept = dict(list(self.known.items())[-MAX_ENTRIES:])
        memo = {"format": MEMO_FORMAT, self.algorithm: kept, "checksum": _checksum(kept)}
        atomic_write_text(self.path, json.dumps(memo) + "\n")


class InputHashes(DigestMemo):
    """The sha256 of input files by identity (a link given as an input is followed: the file's own identity)."""

    algorithm = "sha256"
    pattern = SHA256
    without = "hashing every input file"

    def _digest(self, path: Path) -> str:
        return sha256_of(path)

    def sha256(self, path: Path) -> str:
        return self.digest(path)


def _today() -> int:
    """Days since 1970-01-01 (UTC): when a digest was read, for `DigestMemo.max_age_days`."""
    return int(time.time() // 86400)


def _checksum(digests: dict[str, str]) -> str:
    """A sha256 of the memo's map, in its order."""
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()
