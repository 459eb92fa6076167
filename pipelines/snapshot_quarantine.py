"""The version's quarantine file: every rejected row of the build in (source_file, source_line) order.

It is written one input file at a time, so the whole history's rejected records are never sorted, held or
scanned at once: a cached file that this build corrects nothing in is copied from its cache entry by pyarrow (its
rows are already the file's quarantine, in line order); any other file is assembled by DuckDB (`quarantine_of`)
and sorted alone. When an earlier version's quarantine file holds the build's first files (`quarantine_base`),
only the files after them are written, and their row groups are appended to a copy of that file
(`parquet_append`): a daily build's quarantine costs the new day plus a copy of bytes, not the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from databuild.display import visible
from pipelines.parquet_append import CannotAppend, append_parquet
from pipelines.quarantine_base import QuarantineBase

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 20_000  # rows per batch (and row group): a gateway line kept whole in `record` is ~4 KB, so 100 k rows
# held ~430 MB of Arrow beside DuckDB at 1 M completions; 20 k hold under 100 MB
TEXT_COLUMNS = {"response", "record"}  # long and unique: no dictionary, no min/max (a fifth of the write's time)


@dataclass(frozen=True)
class QuarantinePosition:
    order: int  # the file's position in --logs (file_order)
    path: str
    part: str | None  # its cache entry's quarantine table; None: the file is read now


class VersionQuarantine:
    """The quarantine of a build's files (`positions`, in --logs order) from the session `con`, where the macro
    quarantine_of (sql/70_quarantine_of.sql) is defined. `placeholder`: the empty entry table read_parquet needs."""

    def __init__(
        self,
        con: Any,
        positions: list[QuarantinePosition],
        placeholder: str,
        base: QuarantineBase | None = None,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.con = con
        self.positions = positions
        self.placeholder = placeholder
        self.base = base
        self.warn = warn

    def write(self, path: Path, rows: int) -> None:
        """Write the file; `rows`: how many the build's accounting quarantined (an appended file holding another
        number is written again whole, with a warning)."""
        if self.base is not None:
            try:
                appended = self._append(path, self.base)
                if appended == rows:
                    return
                problem = f"it would hold {appended} rows, not {rows}"
            except (CannotAppend, OSError) as exc:  # OSError: e.g. the version was deleted meanwhile
                problem = str(exc)
            self.warn(f"warning: not appending to {visible(self.base.path)} ({visible(problem)}); writing it whole")
        self._write(path, self.positions)

    def frame(self) -> pl.DataFrame:
        import pyarrow as pa

        schema = self._schema()
        table = pa.Table.from_batches(list(self._batches(self.positions, schema)), schema)
        return pl.from_arrow(table)  # type: ignore[return-value]

    def _append(self, path: Path, base: QuarantineBase) -> int:
        tail = path.with_name(f"{path.stem}.tail{path.suffix}")
        try:
            self._write(tail, self.positions[base.files :])
            with open(path, "wb") as out:
                return append_parquet(base.path, tail, out)
        finally:
            tail.unlink(missing_ok=True)

    def _write(self, path: Path, positions: list[QuarantinePosition]) -> None:
        import pyarrow.parquet as pq

        schema = self._schema()
        small = [name for name in schema.names if name not in TEXT_COLUMNS]
        with pq.ParquetWriter(path, schema, use_dictionary=small, write_statistics=small) as writer:
            for batch in prefetched(self._batches(positions, schema)):  # the next file is read while one is written
                writer.write_batch(batch)

    def _schema(self) -> pa.Schema:
        order = self.positions[0].order
        relation = self.con.sql(f"SELECT * EXCLUDE (row_key) FROM quarantine_of({order}, $parts) LIMIT 0",
                                params={"parts": [self.placeholder]})  # fmt: skip
        return relation.to_arrow_table().schema

    def _batches(self, positions: list[QuarantinePosition], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        corrected = {order for (order,) in self.con.sql(
            "SELECT file_order FROM all_corrections UNION SELECT file_order FROM all_correction_quarantine"
        ).fetchall()}  # fmt: skip
        by_path: dict[str, list[QuarantinePosition]] = {}  # a file named twice: one path, two positions
        for position in positions:
            by_path.setdefault(position.path, []).append(position)
        for path in sorted(by_path):  # code point order, as DuckDB sorts text
            same = by_path[path]
            part = same[0].part
            if len(same) == 1 and part is not None and same[0].order not in corrected and _in_line_order(part):
                yield from _cached_quarantine(part, path, schema)
            else:
                yield from self._assembled(same)

    def _assembled(self, positions: list[QuarantinePosition]) -> Iterator[pa.RecordBatch]:
        union = " UNION ALL ".join(
            f"SELECT *, {p.order} AS file_order FROM quarantine_of({p.order}, $parts{p.order})" for p in positions
        )
        parts = {f"parts{p.order}": [*([p.part] if p.part else []), self.placeholder] for p in positions}
        relation = self.con.sql(f"SELECT * EXCLUDE (file_order, row_key) FROM ({union}) ORDER BY row_key, file_order",
                                params=parts)  # fmt: skip
        yield from relation.to_arrow_reader(BATCH_ROWS)


def prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """The items of `items`, produced by a thread `depth` items ahead of the consumer: pyarrow and DuckDB release
    the GIL, so reading the next file overlaps writing this one. The producer's exception is raised here."""
    import queue
    import threading

    done = object()
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
            ready.put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def _in_line_order(part: str) -> bool:
    """Whether a cache entry's quarantine rows are stored in line order (entries written since they are)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    key = "row_key" if "row_key" in pq.read_schema(part).names else "source_line"  # row_key: a gateway line's rows
    lines = pq.read_table(part, columns=[key]).column(key)
    return len(lines) < 2 or bool(pc.all(pc.greater(lines[1:], lines[:-1])).as_py())


def _cached_quarantine(part: str, path: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """A cached file's quarantine rows as the version holds them, its path added, streamed batch by batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(part).iter_batches(BATCH_ROWS):
        table = pa.Table.from_batches([batch]).add_column(0, "source_file", pa.array([path] * batch.num_rows))
        yield from table.select(schema.names).cast(schema).to_batches()
