"""Run the SQL models of `sql/` by name on a DuckDB connection, with the tool tables they read.

Values are always bound as parameters (`$name`); only the parameters a model mentions are passed to it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import duckdb
import polars as pl

from databuild.errors import DatabuildError
from databuild.resources import read_sql, resource_dir
from databuild.tools import TOOLS, VECTOR_TOOLS, lut_names, params, tool_schema

_PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")


def connect(
    memory_limit: str | None = None, threads: int | None = None, temp_directory: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with bounded memory (spilling to `temp_directory`) and the tool tables registered."""
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
    register_tool_tables(con)
    return con


def run_model(con: duckdb.DuckDBPyConnection, name: str, **values: Any) -> None:
    """Execute `sql/<name>.sql`, binding the `$parameters` it uses from `values`."""
    sql = read_sql(name)
    wanted = set(_PARAMETER.findall(_strip_comments(sql)))
    missing = wanted - values.keys()
    if missing:
        raise ValueError(f"model {name} needs parameters {sorted(missing)}")
    con.execute(sql, {k: values[k] for k in wanted} if wanted else None)


def sql_hashes() -> dict[str, str]:
    """sha256 of every SQL model, for the manifest."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(resource_dir("sql").glob("*.sql"))
    }


def register_tool_tables(con: duckdb.DuckDBPyConnection) -> None:
    """`tool_keys`, `tool_params` and `lut_names`: the JSON Schemas as tables the SQL validation joins against."""
    key_rows = []
    for tool in TOOLS:
        for key, spec in tool_schema(tool)["properties"].items():
            kind = spec.get("type")
            key_rows.append({"tool": tool, "key": key, "kind": "lut_name" if key == "name" else kind})
    param_rows = [
        {
            "tool": p.tool,
            "key": p.key,
            "sub": p.sub,
            "minimum": float(p.minimum),
            "maximum": float(p.maximum),
            "position": p.position,
        }
        for tool in TOOLS
        for p in params(tool)
    ]
    tool_keys = pl.DataFrame(key_rows, schema={"tool": pl.String, "key": pl.String, "kind": pl.String})
    tool_params = pl.DataFrame(
        param_rows,
        schema={
            "tool": pl.String,
            "key": pl.String,
            "sub": pl.String,
            "minimum": pl.Float64,
            "maximum": pl.Float64,
            "position": pl.Int64,
        },
    )
    luts = pl.DataFrame({"name": list(lut_names())})
    for tool in TOOLS:  # JSON paths of every numeric slot, in canonical order: one json_extract per object
        paths = [f'$."{p.key}"' + (f'."{p.sub}"' if p.sub else "") for p in params(tool)]
        con.execute(f"SET VARIABLE slot_paths_{tool} = $paths", {"paths": paths})
    colours = [row["key"] for row in key_rows if row["tool"] == "selective_adjust" and row["kind"] == "object"]
    con.execute("SET VARIABLE object_paths_selective_adjust = $paths", {"paths": [f'$."{c}"' for c in colours]})
    for tool in VECTOR_TOOLS:
        prefixes, suffixes = canonical_layout(tool)
        con.execute(f"SET VARIABLE canonical_prefixes_{tool} = $parts", {"parts": prefixes})
        con.execute(f"SET VARIABLE canonical_suffixes_{tool} = $parts", {"parts": suffixes})
    subs = sorted({p.sub for p in params("selective_adjust") if p.sub})
    con.execute("SET VARIABLE nested_keys_selective_adjust = $keys", {"keys": subs})
    for table, frame in (("tool_keys", tool_keys), ("tool_params", tool_params), ("lut_names", luts)):
        con.from_arrow(frame.to_arrow()).create(table)


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def canonical_layout(tool: str) -> tuple[list[str], list[str]]:
    """The canonical JSON of a vector tool as text before and after each slot's value, in canonical order.

    adjust: `{"exposure":` 0 `` … `,"linearOffset":` 0 `}`; selective_adjust: `{"red":{"saturation":` 0 ``,
    `,"luminance":` 0 `}` … — so the SQL writes canonical JSON by concatenation, without a group-by.
    """
    slots = params(tool)
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
