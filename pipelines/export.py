"""Export a version's rows, SFT pairs or quarantine as plain files that DuckDB, Polars, pandas or a spreadsheet
open as they are: one file per split (`train.parquet`, `test.parquet`; the quarantine: `quarantine.parquet`), with
the version's columns in the version's order and its rows in its order.

Every file is written aside first and renamed into place only when all of them are written: an export replaces
the files it names completely or not at all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from databuild.contracts import SPLITS
from databuild.errors import DatabuildError
from databuild.store import QUARANTINE_FILE, Store, check_writable_dir

EXPORT_FORMATS = ("parquet", "jsonl", "csv")
EXPORT_WHAT = ("rows", "sft", "quarantine")


def export_frames(store: Store, version: str, what: str) -> dict[str, pl.DataFrame]:
    """The tables to export, by file stem: one per split of `rows` / `sft`, or the quarantine alone."""
    if what == "quarantine":
        path = store.quarantine_path(version)
        if not path.is_file():
            raise DatabuildError(f"version {version} has no {QUARANTINE_FILE} (only snapshots of logs have one)")
        return {"quarantine": pl.read_parquet(path)}
    import datasets

    dataset_dict = datasets.load_from_disk(str(store.rows_dir(version) if what == "rows" else store.sft_dir(version)))
    frames = {}
    for split in SPLITS:
        frame = pl.from_arrow(dataset_dict[split].data.table)
        assert isinstance(frame, pl.DataFrame)
        frames[split] = frame
    return frames


def _write(frame: pl.DataFrame, path: Path, file_format: str) -> None:
    if file_format == "parquet":
        frame.write_parquet(path)
    elif file_format == "jsonl":
        frame.write_ndjson(path)
    else:
        frame.write_csv(path)


def write_all_or_nothing(frames: dict[str, pl.DataFrame], output_dir: Path, file_format: str) -> dict[str, Path]:
    """Write every frame to `output_dir/<stem>.<format>`: all aside first, then renamed into place."""
    check_writable_dir(output_dir, "--output")
    output_dir.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    written: dict[str, Path] = {}
    try:
        for stem, frame in frames.items():
            fd, aside = tempfile.mkstemp(prefix=f".{stem}.", suffix=".partial", dir=output_dir)
            os.close(fd)
            written[stem] = Path(aside)
            _write(frame, Path(aside), file_format)
            os.chmod(aside, 0o666 & ~umask)  # mkstemp creates 0600; exported files are read by other tools
        final = {stem: output_dir / f"{stem}.{file_format}" for stem in frames}
        for stem, aside_path in written.items():
            os.replace(aside_path, final[stem])
        return final
    except BaseException:
        for aside_path in written.values():
            aside_path.unlink(missing_ok=True)
        raise


def export_version(store: Store, version: str, what: str, file_format: str, output_dir: Path) -> dict[str, Any]:
    """Export `what` of `version` as `file_format` files into `output_dir`; returns what `databuild export` prints."""
    if file_format not in EXPORT_FORMATS:
        raise DatabuildError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {file_format!r}")
    if what not in EXPORT_WHAT:
        raise DatabuildError(f"--what must be one of {', '.join(EXPORT_WHAT)}, not {what!r}")
    name = store.resolve(version)
    frames = export_frames(store, name, what)
    paths = write_all_or_nothing(frames, output_dir, file_format)
    return {
        "version": name,
        "what": what,
        "format": file_format,
        "files": [{"name": stem, "path": str(paths[stem]), "rows": frame.height} for stem, frame in frames.items()],
    }
