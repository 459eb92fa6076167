"""Run the SQL models of `sql/` by name on a DuckDB connection, with the tool pack's tables they read.

Values are always bound as parameters (`$name`); only the parameters a model mentions are passed to it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import duckdb
import polars as pl

from databuild.errors import DatabuildError
from databuild.pack import Slot, Tool, ToolPack, colour_pack, dumps
from databuild.resources import read_sql, resource_dir

_PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")


def connect(
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    pack: ToolPack | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with bounded memory (spilling to `temp_directory`) and the pack's tables registered
    (the colour pack when none is given)."""
    config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = int(threads)
    if temp_directory:
        config["temp_directory"] = temp_directory
    try:
        con = duckdb.connect(config=config)
    except (duckdb.Error, ValueError) as exc:
        raise DatabuildError(f"bad DuckDB setting: {exc}") from None
    # UTC: a timestamp without an offset means the same instant on every machine, never the host's TZ.
    con.execute("SET TimeZone = 'UTC'")
    register_pack_tables(con, pack or colour_pack())
    return con


def run_model(con: duckdb.DuckDBPyConnection, name: str, **values: Any) -> None:
    """Execute `sql/<name>.sql`, binding the `$parameters` it uses from `values` (statement by statement: DuckDB
    binds parameters in one statement at a time)."""
    sql = read_sql(name)
    wanted = set(_PARAMETER.findall(_strip_comments(sql)))
    missing = wanted - values.keys()
    if missing:
        raise ValueError(f"model {name} needs parameters {sorted(missing)}")
    for statement in con.extract_statements(sql):
        used = statement.named_parameters
        con.execute(statement, {k: values[k] for k in used} if used else None)  # parsed once, above


def sql_hashes() -> dict[str, str]:
    """sha256 of every SQL model, for the manifest."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(resource_dir("sql").glob("*.sql"))
    }


def register_pack_tables(con: duckdb.DuckDBPyConnection, pack: ToolPack) -> None:
    """The pack as tables (and JSON path lists) the SQL models join against: see `pack_tables`."""
    tables, variables = pack_tables(pack)
    for name, value in variables.items():
        con.execute(f"SET VARIABLE {name} = $value", {"value": value})
    for table, frame in tables.items():
        con.from_arrow(frame.to_arrow()).create(table)


def pack_tables(pack: ToolPack) -> tuple[dict[str, pl.DataFrame], dict[str, list[str]]]:
    """`pack_tools` (one row per tool: its slots' layout as lists), `pack_keys`, `pack_objects`, `pack_slots`,
    `pack_enums`; and the variables `slot_paths` / `object_paths`: every distinct JSON path of a leaf / nested
    object over all tools (JSON functions take constant paths only, so one list serves every tool and each tool
    picks its positions from it)."""
    slot_paths = list(dict.fromkeys(slot.path for tool in pack.tools for slot in tool.slots))
    object_paths = list(dict.fromkeys(f'$."{key}"' for tool in pack.tools for key in tool.objects))
    tools = [_tool_row(tool, number, slot_paths) for number, tool in enumerate(pack.tools, start=1)]
    tables = {
        "pack_tools": pl.DataFrame(tools, schema=PACK_TOOLS_SCHEMA),
        "pack_keys": pl.DataFrame([row for tool in pack.tools for row in _key_rows(tool)], schema=PACK_KEYS_SCHEMA),
        "pack_objects": pl.DataFrame(
            [row for tool in pack.tools for row in _object_rows(tool, object_paths)], schema=PACK_OBJECTS_SCHEMA
        ),
        "pack_slots": pl.DataFrame([row for tool in pack.tools for row in _slot_rows(tool)], schema=PACK_SLOTS_SCHEMA),
        "pack_enums": pl.DataFrame([row for tool in pack.tools for row in _enum_rows(tool)], schema=PACK_ENUMS_SCHEMA),
    }
    return tables, {"slot_paths": slot_paths, "object_paths": object_paths}


PACK_TOOLS_SCHEMA: dict[str, Any] = {
    "tool": pl.String,
    "tool_no": pl.Int64,
    "strict": pl.Boolean,
    "path_indexes": pl.List(pl.Int64),
    "kinds": pl.List(pl.String),
    "steps": pl.List(pl.Float64),
    "decimals": pl.List(pl.Int32),
    "defaults": pl.List(pl.String),
    "neutral_if": pl.List(pl.String),
    "prefixes": pl.List(pl.String),
    "suffixes": pl.List(pl.String),
    "neutral": pl.String,
}
PACK_KEYS_SCHEMA: dict[str, Any] = {"tool": pl.String, "key": pl.String, "required": pl.Boolean}
PACK_OBJECTS_SCHEMA: dict[str, Any] = {
    "tool": pl.String,
    "object_index": pl.Int64,
    "subs": pl.List(pl.String),
    "strict": pl.Boolean,
}
PACK_SLOTS_SCHEMA: dict[str, Any] = {
    "tool": pl.String,
    "slot": pl.Int64,
    "kind": pl.String,
    "minimum": pl.Float64,
    "maximum": pl.Float64,
}
PACK_ENUMS_SCHEMA: dict[str, Any] = {"tool": pl.String, "slot": pl.Int64, "value": pl.String, "value_json": pl.String}


def _tool_row(tool: Tool, tool_no: int, slot_paths: list[str]) -> dict[str, Any]:
    """A `pack_tools` row: the tool's slots as parallel lists, in slot order, and its canonical layout."""
    prefixes, suffixes = canonical_layout(tool)
    return {
        "tool": tool.name,
        "tool_no": tool_no,
        "strict": tool.strict,
        "path_indexes": [slot_paths.index(slot.path) + 1 for slot in tool.slots],
        "kinds": [slot.kind for slot in tool.slots],
        "steps": [float(slot.step) for slot in tool.slots],
        "decimals": [slot.decimals for slot in tool.slots],
        "defaults": [dumps(slot.default) for slot in tool.slots],
        "neutral_if": [_neutral_text(tool, slot) for slot in tool.slots],
        "prefixes": prefixes,
        "suffixes": suffixes,
        "neutral": dumps(tool.neutral()),
    }


def _key_rows(tool: Tool) -> list[dict[str, Any]]:
    return [{"tool": tool.name, "key": key, "required": key in tool.required} for key in tool.keys]


def _object_rows(tool: Tool, object_paths: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "tool": tool.name,
            "object_index": object_paths.index(f'$."{key}"') + 1,
            "subs": list(subs),
            "strict": key in tool.strict_objects,
        }
        for key, subs in tool.objects.items()
    ]


def _slot_rows(tool: Tool) -> list[dict[str, Any]]:
    return [
        {"tool": tool.name, "slot": position, "kind": slot.kind, "minimum": slot.minimum, "maximum": slot.maximum}
        for position, slot in enumerate(tool.slots, start=1)
    ]


def _enum_rows(tool: Tool) -> list[dict[str, Any]]:
    return [
        {"tool": tool.name, "slot": position, "value": value, "value_json": dumps(value)}
        for position, slot in enumerate(tool.slots, start=1)
        for value in slot.enum
    ]


def _neutral_text(tool: Tool, slot: Slot) -> str | None:
    """The JSON text of the value that makes an output neutral on this slot (`x-neutral-if`), or None."""
    if slot.sub is None and slot.key in tool.neutral_if:
        return dumps(tool.neutral_if[slot.key])
    return None


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def canonical_layout(tool: Tool) -> tuple[list[str], list[str]]:
    """A tool's canonical JSON as text before and after each slot's value, in canonical order.

    `{"a":` 0 `` … `,"z":` 0 `}`; nested: `{"k":{"x":` 0 ``, `,"y":` 0 `}` … —
    so the SQL writes canonical JSON by concatenation, without a group-by.
    """
    slots = tool.slots
    prefixes, suffixes = [], []
    for index, slot in enumerate(slots):
        opening = "{" if index == 0 else ","
        if slot.sub is None:
            prefixes.append(f'{opening}"{slot.key}":')
        elif index == 0 or slots[index - 1].key != slot.key:
            prefixes.append(f'{opening}"{slot.key}":{{"{slot.sub}":')
        else:
            prefixes.append(f',"{slot.sub}":')
        last_of_key = index == len(slots) - 1 or slots[index + 1].key != slot.key
        suffixes.append(
            ("}" if slot.sub is not None and last_of_key else "") + ("}" if index == len(slots) - 1 else "")
        )
    return prefixes, suffixes
