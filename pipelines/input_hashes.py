"""The sha256 of input files already hashed, so that a daily build hashes only the new day, not the whole history.

A file is known by its device, inode, size, modification and change times (`st_ctime` cannot be set back by a
user): any write to the file changes one of them, and the file is hashed again. The memo is a cache in the
store (`cache/snapshot/input_hashes.json`): unreadable, damaged (its checksum, a sha256 of its map, does not
match) or not a regular file, it is ignored with a one-line warning; lost, it costs one hash of every file. (A wrong
hash in it would give a file another file's cache entries: the checksum is what keeps a damaged memo out.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from databuild.display import visible
from databuild.store import atomic_write_text

MEMO_FORMAT = 2  # 2: with the checksum of its map
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_ENTRIES = 100_000  # about 10 MB of JSON; the oldest entries go first


def file_identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class InputHashes:
    """sha256 by file identity, read from and written back to one JSON file."""

    def __init__(self, path: Path | None, warn: Callable[[str], None] = lambda message: None) -> None:
        self.path = path
        self.known: dict[str, str] = self._load(warn) if path else {}
        self.changed = False

    def _load(self, warn: Callable[[str], None]) -> dict[str, str]:
        assert self.path is not None
        try:
            if not stat.S_ISREG(self.path.lstat().st_mode):
                raise ValueError("not a regular file")
            memo = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            warn(f"warning: ignoring {visible(self.path)} ({visible(str(exc))}); hashing every input file")
            return {}
        hashes = memo.get("sha256") if isinstance(memo, dict) and memo.get("format") == MEMO_FORMAT else None
        if not isinstance(hashes, dict) or not all(isinstance(v, str) and SHA256.fullmatch(v) for v in hashes.values()):
            warn(f"warning: ignoring {visible(self.path)} (not a memo of this databuild); hashing every input file")
            return {}
        if memo.get("checksum") != _checksum(hashes):
            problem = "damaged: its checksum does not match"
            warn(f"warning: ignoring {visible(self.path)} ({problem}); hashing every input file")
            return {}
        return hashes

    def sha256(self, path: Path) -> str:
        """The file's sha256: from the memo when the file is unchanged since it was hashed, else read whole."""
        before = file_identity(path.stat())
        if (known := self.known.pop(before, None)) is not None:
            self.known[before] = known  # most recently used last: the oldest go first when the memo is full
            return known
        digest = sha256_of(path)
        if file_identity(path.stat()) == before:  # not written to while it was read
            self.known[before] = digest
            self.changed = True
        return digest

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        kept = dict(list(self.known.items())[-MAX_ENTRIES:])
        memo = {"format": MEMO_FORMAT, "sha256": kept, "checksum": _checksum(kept)}
        atomic_write_text(self.path, json.dumps(memo) + "\n")


def _checksum(hashes: dict[str, str]) -> str:
    """A sha256 of the memo's map, in its order."""
    return hashlib.sha256(json.dumps(hashes).encode()).hexdigest()
