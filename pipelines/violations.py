"""What a user can act on when a build rejects rows: the first schema violation, spelled out, and the quarantine of
a build that kept no intent, written where it can be read (`STORE/tmp/last-failed/quarantine.parquet`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from databuild.pack import ToolPack
from databuild.store import Store, replacing
from databuild.store_cleanup import real_folder

MARKER = "JSON:"
MAX_VALUE_CHARS = 60


def pack_file_label(tools: str | None) -> str:
    """Where the pack's tools (ranges, enum names) are listed: the file given, or the built-in colour pack's."""
    if tools == "from-logs":
        return "the tools the logged requests offered (--tools from-logs)"
    if tools:
        return tools
    return "databuild/packs/colour/tools.json (the built-in colour pack, inside the databuild package)"


def first_violation(quarantine: pl.DataFrame, pack: ToolPack, pack_file: str) -> str | None:
    """One line on the first `schema_violation` row (file order): its file and line, the key, the value and where
    the valid values are listed. None when there is none, or when the value cannot be pinned down."""
    rows = quarantine.filter(pl.col("reason") == "schema_violation")
    if rows.height == 0:
        return None
    row = rows.row(0, named=True)
    where = f"{row['source_file']}:{row['source_line']}" if row.get("source_line") is not None else row["source_file"]
    detail = _explain(pack, row.get("tool"), row.get("response"))
    if detail is None:
        return None
    return f"first schema_violation ({where}): {detail}; the valid values are listed in {pack_file}"


def _explain(pack: ToolPack, tool_name: Any, response: Any) -> str | None:
    import jsonschema

    if not isinstance(response, str) or tool_name not in pack.names or MARKER not in response:
        return None
    tail = response.split(MARKER, 1)[1]
    start = tail.find("{")
    try:
        value, _ = json.JSONDecoder().raw_decode(tail[start:]) if start >= 0 else (None, 0)
    except ValueError:
        return None
    tool = pack.tool(tool_name)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(tool.parameters).iter_errors(value))
    if error is None:
        return None  # e.g. a key given twice: the schema holds, the JSON text does not
    key = ".".join(str(part) for part in error.absolute_path) or "(the object)"
    shown = json.dumps(error.instance, ensure_ascii=False)
    if len(shown) > MAX_VALUE_CHARS:
        shown = shown[: MAX_VALUE_CHARS - 1] + "…"
    if error.validator == "enum":
        return f"{tool_name} {key} = {shown} is not one of its {len(error.validator_value)} names"
    if error.validator in ("minimum", "maximum"):
        return f"{tool_name} {key} = {shown} is out of range ({error.validator} {error.validator_value})"
    if error.validator == "additionalProperties":
        return f"{tool_name}: {error.message}"
    return f"{tool_name} {key} = {shown}: {error.validator} {json.dumps(error.validator_value)[:MAX_VALUE_CHARS]}"


def keep_failed_quarantine(store: Store, quarantine: pl.DataFrame) -> Path:
    """Write a failed build's quarantine to `STORE/tmp/last-failed/quarantine.parquet` (replacing the last one)."""
    path = store.last_failed_quarantine_path
    real_folder(store.root, path.parent)  # a link there is removed, never written through
    with replacing(path) as handle:
        quarantine.write_parquet(handle)
    return path
