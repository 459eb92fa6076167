"""The shapes every layer shares, for any tool pack: rows, splits, SFT completions, predictions, the row reader.

- rows: `pack.row_columns()` (+ `split`): one canonical-JSON column per tool and one `<tool>_used` flag, in pack
  order, around the fixed columns.
- SFT: per (intent, tool) the tool's prompt and `Parameters: <JSON>`: cosine tools leave out default values
  (`{}` when unused), exact tools are written whole.
- predictions: `{"intent", <tool>: text, ...}`, read back by the snapshot's own SQL model with these markers.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from databuild.pack import Tool, ToolPack, colour_pack, dumps
from databuild.store import Store, reading

SPLITS = ("train", "test")
COMPLETION_PREFIX = "Parameters: "
JSON_MARKER = "JSON:"
PREDICTION_MARKERS: tuple[str, ...] = ("Parameters:", JSON_MARKER)
FIXED_SCHEMA: dict[str, Any] = {
    "intent": pl.String,
    "intent_text": pl.String,
    "n_calls": pl.Int64,
    "source": pl.String,
    "augmented_from": pl.String,
    "iteration": pl.Int64,
}


def row_schema(pack: ToolPack) -> dict[str, Any]:
    """Column -> Polars dtype of the `rows` dataset, in its column order (without `split`)."""
    types = FIXED_SCHEMA | {name: pl.String for name in pack.names} | {f"{n}_used": pl.Boolean for n in pack.names}
    return {column: types[column] for column in pack.row_columns()}


def spread_tools(rows: pl.DataFrame, pack: ToolPack) -> pl.DataFrame:
    """The SQL `rows` table (`canonicals`, `used_flags` as lists in pack order) as one column per tool."""
    return rows.with_columns(
        *(pl.col("canonicals").list.get(i).alias(name) for i, name in enumerate(pack.names)),
        *(pl.col("used_flags").list.get(i).alias(f"{name}_used") for i, name in enumerate(pack.names)),
    ).drop("canonicals", "used_flags")


def completion_body(canonical: pl.Expr, tool: Tool) -> pl.Expr:
    """The JSON a student writes for a canonical output (see the module docstring)."""
    if tool.written_whole:
        return canonical
    body = canonical
    defaults: dict[str, list[str]] = {}
    for slot in tool.slots:
        defaults.setdefault(dumps(slot.default), []).append(slot.sub or slot.key)
    for default, keys in defaults.items():  # Polars regex has no look-ahead: the delimiter is kept by a group
        names = "|".join(re.escape(key) for key in dict.fromkeys(keys))
        body = body.str.replace_all(f'"(?:{names})":{re.escape(default)}([,}}])', "$1")
    return (
        body.str.replace_all(r'"\w+":\{,*\}', "")  # a nested object left empty
        .str.replace_all(r",{2,}", ",")
        .str.replace_all(r"\{,", "{")
        .str.replace_all(r",\}", "}")
    )


def completions_frame(rows: pl.DataFrame, pack: ToolPack) -> pl.DataFrame:
    """Per row, one completion per tool: `Parameters: <JSON>` as the SFT data teaches it."""
    return rows.select(
        pl.concat_str([pl.lit(COMPLETION_PREFIX), completion_body(pl.col(tool.name), tool)]).alias(tool.name)
        for tool in pack.tools
    )


def unused_completions(pack: ToolPack | None = None) -> dict[str, str]:
    """What a student writes when it uses no tool (default pack: the colour pack)."""
    pack = pack or colour_pack()
    return {tool.name: COMPLETION_PREFIX + dumps(tool.completion_object(tool.neutral())) for tool in pack.tools}


def build_sft(rows: pl.DataFrame, pack: ToolPack) -> pl.DataFrame:
    """One row per (intent, tool): the tool's student prompt and its completion."""
    completions = completions_frame(rows, pack)
    per_tool = []
    for tool in pack.tools:
        before, after = tool.prompt_parts()
        per_tool.append(
            rows.select(
                pl.col("intent"),
                pl.lit(tool.name).alias("tool"),
                pl.concat_str([pl.lit(before), pl.col("intent"), pl.lit(after)]).alias("prompt"),
                completions.get_column(tool.name).alias("completion"),
                pl.col("split"),
            )
        )
    return pl.concat(per_tool).sort("intent", "tool")


def used_all(rows: pl.DataFrame, pack: ToolPack) -> dict[str, dict[str, Any]]:
    """The paper's Used/All table: per split, `rows` and `<tool>_used` counts."""
    table: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        part = rows.filter(pl.col("split") == split)
        table[split] = {"rows": part.height} | {
            f"{name}_used": int(part[f"{name}_used"].sum() or 0) for name in pack.names
        }
    return table


def predictions_frame(intents: list[str], completions: list[dict[str, str]], pack: ToolPack) -> pl.DataFrame:
    """A student's answers in the predictions format (intent + one raw text per tool)."""
    return pl.DataFrame(
        {"intent": intents} | {name: [answer.get(name) for answer in completions] for name in pack.names},
        schema=predictions_schema(pack),
    )


def predictions_schema(pack: ToolPack) -> dict[str, Any]:
    return {"intent": pl.String} | {name: pl.String for name in pack.names}


def load_rows(store: Store, name: str) -> pl.DataFrame:
    """A version's rows (both splits) as one Polars frame with a `split` column."""
    import datasets

    frames = []
    with reading(store.rows_dir(name)):  # a corrupt `rows/` is named in one Error line
        dataset_dict = datasets.load_from_disk(str(store.rows_dir(name)))
        for split in SPLITS:
            frame = pl.from_arrow(dataset_dict[split].data.table)
            assert isinstance(frame, pl.DataFrame)
            frames.append(frame.with_columns(pl.lit(split).alias("split")))
        return pl.concat(frames, how="vertical_relaxed")
