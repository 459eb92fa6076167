"""The tool pack from the logs (`snapshot --tools from-logs`): the function tools the logged requests offered.

`sql/07_logged_tools.sql` finds every distinct definition in the lines (set-based: a list repeated on every line is
unnested once); here each name keeps its most recent definition (the last line that offered it, by the line's time,
then the file's position and the line's), tools in the order they were first offered. A name offered with more than
one definition is listed in a warning. The pack is JSON like any pack file (`{"name": "from-logs", "tools": [...]}`)
and goes through the same checks: a definition outside the supported JSON Schema subset is the same one-line error
as in a bad pack file, naming the file and line that offered it last.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from databuild.errors import DatabuildError
from databuild.pack import ToolPack, parse_pack
from databuild.sqlrun import connect, run_model
from pipelines.gateway import SideInputs
from pipelines.inputs import InputFile, load_jsonl_lines

FROM_LOGS = "from-logs"  # the --tools value, and the pack's name


@dataclass(frozen=True)
class LoggedPack:
    pack: ToolPack
    changed: tuple[str, ...]  # tools whose definition changed over time


def logged_pack(con: Any, file_names: dict[int, str], request_key: str | None = None) -> LoggedPack:
    """The pack of the tools offered in `gateway_lines` (already loaded in `con`); `file_names`: file_order ->
    the path to name in messages."""
    run_model(con, "07_logged_tools", request_key=request_key)
    found = con.table("logged_tools").pl()
    if found.is_empty():
        raise DatabuildError(
            f"--tools {FROM_LOGS}: no logged request offered a function tool (`tools` or `functions`); "
            "give a pack file with --tools instead"
        )
    latest = _latest_definitions(found)
    tools = []
    for row in latest.iter_rows(named=True):
        where = f"{FROM_LOGS} ({file_names.get(row['last_file'], row['last_file'])} line {row['last_line']})"
        tool = {"type": "function", "function": json.loads(row["definition"])}
        parse_pack(json.dumps([tool]).encode(), where, FROM_LOGS)  # each tool's problems name where it came from
        tools.append(tool)
    raw = (json.dumps({"name": FROM_LOGS, "tools": tools}, indent=2, ensure_ascii=False) + "\n").encode()
    return LoggedPack(pack=parse_pack(raw, FROM_LOGS, FROM_LOGS), changed=_changed(found))


def _latest_definitions(found: pl.DataFrame) -> pl.DataFrame:
    """Per name, the definition offered last; names in the order they were first offered."""
    last_first = found.sort(["last_ts", "last_file", "last_line"], descending=True, nulls_last=True)
    latest = last_first.group_by("name", maintain_order=True).first()
    first_offered = found.sort(["first_file", "first_line", "first_position"]).group_by("name", maintain_order=True)
    order = first_offered.first().select("name").with_row_index("order")
    return latest.join(order, on="name").sort("order")


def _changed(found: pl.DataFrame) -> tuple[str, ...]:
    """Names offered with definitions that differ once read as JSON (key order and spacing do not count)."""
    canonical = found.select(
        "name",
        pl.col("definition")
        .map_elements(_canonical_json, return_dtype=pl.String)  # a few distinct definitions, not one per line
        .alias("canonical"),
    )
    counts = canonical.group_by("name").agg(pl.col("canonical").n_unique().alias("n"))
    return tuple(sorted(counts.filter(pl.col("n") > 1)["name"].to_list()))


def _canonical_json(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def changed_warning(changed: tuple[str, ...]) -> str:
    return (
        f"warning: --tools {FROM_LOGS}: the definition of {', '.join(changed)} changed over time; "
        "the most recent one is used"
    )


def read_logged_pack(
    inputs: list[InputFile],
    warn: Callable[[str], None],
    memory_limit: str | None = None,
    side: SideInputs | None = None,
) -> ToolPack:
    """The pack from the gateway-format `inputs` (read in a connection of their own; the Batch API input file and
    --pair-keys from `side`), the change warning given."""
    con = connect(memory_limit=memory_limit)
    try:
        load_jsonl_lines(con, [item for item in inputs if item.log_format != "databuild"])
        if side is not None:
            side.register(con)
        else:
            con.execute("CREATE TABLE batch_lines (line VARCHAR)")
        request_key = side.values()["request_key"] if side is not None else None
        result = logged_pack(con, {item.order: str(item.path) for item in inputs}, request_key)
    finally:
        con.close()
    if result.changed:
        warn(changed_warning(result.changed))
    return result.pack
