"""Outcomes joined to gateway logs (`snapshot --outcomes FILE`): whether the user exported each request's result.

An outcomes file (JSON Lines, CSV or Parquet) holds records `{request_id, exported}` (a bool, 0/1 or "true"/"false"),
or it is a Langfuse scores export read as it is (`trace_id`, `name`, `value`, `data_type`): the scores named
`--outcome-name` whose value reaches `--outcome-threshold` are exported. Each file becomes rows
(request_id, exported) of the table `outcome_records`, which sql/04_outcomes.sql aggregates (any true record wins).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from databuild.errors import DatabuildError

OUTCOME_SCHEMA = {"request_id": pl.String, "exported": pl.Boolean}
TRUE_TEXTS = ("true", "1")
FALSE_TEXTS = ("false", "0")
SCORE_COLUMNS = ("trace_id", "name", "value")


def read_outcomes(path: Path, outcome_name: str, threshold: float) -> pl.DataFrame:
    """One outcomes file as (request_id, exported) rows; a file of another shape is one DatabuildError."""
    frame = _read_table(path)
    if "request_id" in frame.columns and "exported" in frame.columns:
        return _plain_records(path, frame)
    if all(column in frame.columns for column in SCORE_COLUMNS):
        return _scores(path, frame, outcome_name, threshold)
    missing = "request_id" if "request_id" not in frame.columns else "exported"
    raise DatabuildError(
        f"{path}: an outcomes file needs the columns request_id and exported (or is a Langfuse scores export: "
        f"trace_id, name, value); it lacks {missing} (columns: {', '.join(frame.columns) or 'none'})"
    )


def _read_table(path: Path) -> pl.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        if name.endswith(".csv"):
            return pl.read_csv(path, infer_schema=False)  # every column as text: "true", "1" are read below
        if name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")):
            return _read_jsonl(path)
    except FileNotFoundError:
        raise DatabuildError(f"outcomes file not found: {path}") from None
    except Exception as exc:  # polars raises several types for unreadable content
        raise DatabuildError(f"{path} is not a readable outcomes file ({_first_line(exc)})") from None
    raise DatabuildError(f"{path}: unsupported outcomes file type (expected .jsonl, .csv or .parquet)")


def _read_jsonl(path: Path) -> pl.DataFrame:
    """DuckDB's reader: a column of mixed JSON types (true, 1, "true") comes as JSON text, not an error."""
    import duckdb

    if not path.is_file():
        raise FileNotFoundError(path)
    with duckdb.connect() as con:
        return con.sql("SELECT * FROM read_ndjson($path, sample_size = -1)", params={"path": str(path)}).pl()


def _plain_records(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    exported = frame["exported"]
    if exported.dtype == pl.Boolean:
        flags = exported
    else:
        text = exported.cast(pl.String).str.strip_chars().str.strip_chars('"').str.to_lowercase()
        bad = text.is_not_null() & ~text.is_in([*TRUE_TEXTS, *FALSE_TEXTS])
        if bad.any():
            row = int(bad.arg_max() or 0)
            raise DatabuildError(
                f'{path}: record {row + 1}: exported must be true/false, 0/1 or "true"/"false", not {exported[row]!r}'
            )
        flags = text.is_in(TRUE_TEXTS)
    return pl.DataFrame({"request_id": frame["request_id"].cast(pl.String), "exported": flags}, schema=OUTCOME_SCHEMA)


def _scores(path: Path, frame: pl.DataFrame, outcome_name: str, threshold: float) -> pl.DataFrame:
    chosen = frame.filter(pl.col("name").cast(pl.String) == outcome_name)
    value = chosen["value"].cast(pl.Float64, strict=False)
    return pl.DataFrame(
        {"request_id": chosen["trace_id"].cast(pl.String), "exported": (value >= threshold).fill_null(False)},
        schema=OUTCOME_SCHEMA,
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
