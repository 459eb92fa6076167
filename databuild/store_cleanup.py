"""Deleting and moving inside the store without ever following a link out of it.

Everything the store removes, moves aside or replaces (cache entries, pruned results, `tmp/` work folders, the
folders a version or `last-failed/` is written into) is reached from the store's root one folder at a time, each
opened with `O_NOFOLLOW` relative to the one above (`openat`): a symbolic link on the way is never followed. A link
found there is removed as a link (what it points to is left alone) and reported with a `warning:` line. The root
itself is the user's choice and may be a link.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

Warn = Callable[[str], None]
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY


def print_warning(message: str) -> None:
    """The default `warn`: one line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _parts(root: Path, path: Path) -> tuple[str, ...]:
    """`path`'s names below `root` (lexically, without resolving links); a path outside the store is refused."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    parts = Path(relative).parts
    if relative == "." or not parts or parts[0] == ".." or os.path.isabs(relative):
        raise ValueError(f"{path} is not inside the store {root}")
    return parts


def _drop_link(parent_fd: int, name: str, shown: Path, warn: Warn) -> None:
    """Remove the link `name` (in the folder `parent_fd`) as a link, and say so."""
    try:
        target = os.readlink(name, dir_fd=parent_fd)
        os.unlink(name, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    warn(
        f"warning: removed the symbolic link {shown} -> {target} from the store (databuild never deletes, moves or "
        f"writes through a link; {target} was left alone)"
    )


def _is_link(parent_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


@contextmanager
def _opened_parent(root: Path, path: Path, warn: Warn, create: bool = False) -> Iterator[tuple[int, str] | None]:
    """The folder that holds `path`, opened from the root without following a link, and `path`'s name in it; None
    when a folder on the way is missing (and not `create`d) or was a link (removed, with a warning)."""
    parts = _parts(root, path)
    if create:
        os.makedirs(root, exist_ok=True)
    fd = os.open(root, _DIRECTORY)
    try:
        shown = Path(root)
        for name in parts[:-1]:
            shown = shown / name
            if create:
                with suppress(FileExistsError):
                    os.mkdir(name, dir_fd=fd)
            try:
                child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                yield None
                return
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not _is_link(fd, name):
                    raise
                _drop_link(fd, name, shown, warn)
                if not create:
                    yield None
                    return
                os.mkdir(name, dir_fd=fd)
                child = os.open(name, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd, parts[-1]
    finally:
        os.close(fd)


def remove_tree(root: Path, path: Path, warn: Warn = print_warning) -> bool:
    """Remove `path` (a folder and everything in it, or a file) from the store `root`, never through a link: a link
    on the way or at `path` is removed as a link, with a warning; links inside the folder are removed as links
    too (and reported). True when something was removed."""
    with _opened_parent(root, path, warn) as located:
        if located is None:
            return False
        fd, name = located
        try:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISLNK(mode):
            _drop_link(fd, name, Path(path), warn)
        elif stat.S_ISDIR(mode):
            _report_links_inside(fd, name, Path(path), warn)
            shutil.rmtree(name, dir_fd=fd, ignore_errors=True)  # fd-based: it never follows a link inside
        else:
            os.unlink(name, dir_fd=fd)
        return True


def _report_links_inside(parent_fd: int, name: str, shown: Path, warn: Warn) -> None:
    """A warning for each link inside the folder about to be removed (rmtree removes them as links)."""
    found = []
    with suppress(OSError):
        for folder, subfolders, files, folder_fd in os.fwalk(name, dir_fd=parent_fd, follow_symlinks=False):
            for entry in (*subfolders, *files):  # fwalk closes folder_fd once the loop moves on: use it here
                if _is_link(folder_fd, entry):
                    found.append((shown / Path(folder).relative_to(name) / entry, os.readlink(entry, dir_fd=folder_fd)))
    for inside, target in found:
        warn(f"warning: removed the symbolic link {inside} -> {target} from the store ({target} left alone)")


def real_folder(root: Path, folder: Path, warn: Warn = print_warning) -> Path:
    """Make `folder` (inside the store `root`) and the folders above it real directories: each missing one is
    created, each link on the way (or at `folder`) removed as a link, with a warning, and replaced by an empty
    directory. Returns `folder`, safe to write, move and delete in."""
    with _opened_parent(root, folder / "_", warn, create=True):
        pass
    return folder


def move_aside(root: Path, path: Path, target: Path, warn: Warn = print_warning) -> bool:
    """Rename `path` (inside the store `root`) to `target` (a new name in one of the store's `tmp/` work folders),
    reaching it without following a link; a link at `path` or on the way is removed as a link, with a warning.
    False when there was nothing to move."""
    with _opened_parent(root, path, warn) as located:
        if located is None:
            return False
        fd, name = located
        if _is_link(fd, name):
            _drop_link(fd, name, Path(path), warn)
            return False
        try:
            os.rename(name, target, src_dir_fd=fd)
        except FileNotFoundError:
            return False
        return True


def link_on_the_way(root: Path, path: Path) -> Path | None:
    """The first symbolic link among `path` and the folders above it, up to the store `root` (None: none)."""
    current = Path(root)
    for name in _parts(root, path):
        current = current / name
        if current.is_symlink():
            return current
    return None
