"""Parse tool outputs (teacher responses or student completions) with the snapshot's own SQL model."""

from __future__ import annotations

import polars as pl

from databuild.contracts import JSON_MARKER
from databuild.pack import ToolPack
from databuild.sqlrun import connect, run_model


def parse_tool_outputs(
    frame: pl.DataFrame, markers: tuple[str, ...] = (JSON_MARKER,), pack: ToolPack | None = None
) -> pl.DataFrame:
    """Add `reason`, `canonical` and `used` to a frame of (`key`, `tool`, `text`), judged by `pack`'s schemas
    (default: the colour pack).

    `markers`: `JSON:` and at most one other marker (e.g. `Parameters:`) that is treated the same way.
    A null text gives null reason, canonical and used (the caller decides what a missing output means).
    """
    extra = [m for m in markers if m != JSON_MARKER]
    if len(extra) > 1:
        raise ValueError("at most one marker besides 'JSON:' is supported")
    con = connect(pack=pack)
    con.from_arrow(frame.select("tool", "text").unique().to_arrow()).create("output_texts")
    run_model(con, "20_parsed_outputs", alt_marker=extra[0] if extra else JSON_MARKER)
    parsed = con.table("parsed_outputs").pl().select("tool", "text", "reason", "canonical", "used")
    con.close()
    return frame.join(parsed, on=["tool", "text"], how="left", nulls_equal=False)
