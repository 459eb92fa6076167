"""Which input file is at fault: each file's rows per outcome, for the `Error:` of a build with no valid row and the
`warning:` about a file from which nothing was valid in a build that succeeds.

A file's outcomes are its own accounting (`31_file_accounting`, cached or read now) with its corrected rows (repeats
of an earlier file's event, `35_correction_rows`) moved to duplicate_event, as the build's accounting does
(`80_accounting`), so the files' counts add up to the manifest's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from databuild.errors import DatabuildError


@dataclass(frozen=True)
class FileOutcome:
    label: str  # the file's name, or its path where two files of the build share a name
    rows: int  # rows in the --since/--until window
    read: int  # rows read
    quarantined: dict[str, int]  # reason -> rows, in the build's reason order

    @property
    def valid(self) -> int:
        return self.rows - sum(self.quarantined.values())

    def summary(self) -> str:
        """`missing_field 2, bad_type 1 (3 rows)`, with the rows outside the window when there are any."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.quarantined.items()) or "nothing"
        outside = f", {self.read - self.rows} outside --since/--until" if self.read > self.rows else ""
        return f"{reasons} ({self.rows} rows{outside})"


def file_outcomes(con: Any, paths: dict[int, str], reasons: tuple[str, ...]) -> list[FileOutcome]:
    """Each file of the build (`paths`: file_order -> path, in --logs order) with its outcomes, read from the
    session's `all_accounting` and `all_corrections`."""
    accounting = con.table("all_accounting").pl()
    corrected = con.table("all_corrections").select("file_order", "partial_reason").pl()
    moved = pl.concat(
        [
            corrected.select("file_order", pl.col("partial_reason").fill_null("").alias("name"), n=pl.lit(-1)),
            corrected.select("file_order", name=pl.lit("duplicate_event"), n=pl.lit(1)),
        ]
    )
    rows = accounting.filter(pl.col("kind") == "rows").select("file_order", "name", pl.col("n").cast(pl.Int64))
    outcomes = pl.concat([rows, moved.cast({"file_order": rows.schema["file_order"], "n": pl.Int64})])
    counts = outcomes.group_by("file_order", "name").agg(pl.col("n").sum())
    read = accounting.filter(pl.col("kind") == "read").group_by("file_order").agg(pl.col("n").sum())
    by_file: dict[int, dict[str, int]] = {}
    for order, name, n in counts.iter_rows():  # a few rows per file
        by_file.setdefault(order, {})[name] = int(n)
    read_by_file = {order: int(n) for order, n in read.iter_rows()}
    names = [Path(path).name for path in paths.values()]
    result = []
    for order, path in paths.items():
        mine = by_file.get(order, {})
        label = Path(path).name if names.count(Path(path).name) == 1 else path
        quarantined = {reason: mine[reason] for reason in reasons if mine.get(reason)}
        result.append(FileOutcome(label, sum(mine.values()), read_by_file.get(order, 0), quarantined))
    return result


def no_valid_rows(outcomes: list[FileOutcome]) -> DatabuildError:
    """`no valid rows: junk.jsonl: missing_field 2 (2 rows); a.parquet: bad_type 600 (600 rows)`."""
    return DatabuildError("no valid rows: " + "; ".join(f"{o.label}: {o.summary()}" for o in outcomes))


def nothing_valid_warnings(outcomes: list[FileOutcome]) -> list[str]:
    """One line per file of a successful build from which nothing was valid."""
    return [f"warning: no valid rows in {o.label}: {o.summary()}" for o in outcomes if o.valid == 0]
