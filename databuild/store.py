"""The store: `versions/vN/` dataset versions, `runs/` trained students, `cache/` (embeddings, LLM replies).

Layout of one version (a contract other tools rely on):
`versions/vN/{rows/, sft/, quarantine.parquet, pack.json, manifest.json, README.md}` (`pack.json`: the tool pack
file the version was built with, byte for byte; versions from before tool packs have none and use the colour pack).
A version is built in `tmp/` and renamed into place under the store lock, so it appears complete or not at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.pack import ToolPack, colour_pack, parse_pack

_VERSION_NAME = re.compile(r"^v([1-9][0-9]*)$")
PACK_FILE = "pack.json"


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
            if (m := _VERSION_NAME.match(p.name)) and (p / "manifest.json").is_file()
        ]
        return [name for _, name in sorted(found)]

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

    def manifest(self, name: str) -> dict[str, Any]:
        return json.loads((self.version_dir(name) / "manifest.json").read_text(encoding="utf-8"))

    def pack(self, name: str) -> ToolPack:
        """The tool pack a version was built with (every command reads it from the version, never from a flag)."""
        path = self.version_dir(name) / PACK_FILE
        if not path.is_file():
            return colour_pack()
        recorded = self.manifest(name).get("pack") or {}
        return parse_pack(path.read_bytes(), str(path), default_name=str(recorded.get("name") or "pack"))

    def find_fingerprint(self, fingerprint: str) -> str | None:
        for name in self.version_names():
            if self.manifest(name).get("fingerprint") == fingerprint:
                return name
        return None

    def lineage(self, name: str) -> list[str]:
        """`name`, its parent, its parent's parent … up to the first version."""
        chain: list[str] = []
        current: str | None = name
        while current and current not in chain and (self.version_dir(current) / "manifest.json").is_file():
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
    def lock(self) -> Iterator[None]:
        """Exclusive store lock (blocks until free): version allocation and renames happen under it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temporary directory inside the store (same filesystem, so a rename is atomic)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="build-", dir=self.tmp_dir))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def next_version_name(self) -> str:
        names = self.version_names()
        taken = {int(p.name[1:]) for p in self.versions_dir.glob("v*") if _VERSION_NAME.match(p.name)}
        number = max([int(n[1:]) for n in names] + list(taken) + [0]) + 1
        return f"v{number}"


def open_store(root: Path | str) -> Store:
    return Store(Path(root))


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; a report file should be readable like any other
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
