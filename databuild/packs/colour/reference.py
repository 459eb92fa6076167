"""The colour pack's vocabulary as plain names, for the simulator, benchmarks and tests written for the paper's tools.

Everything is derived from `tools.json` through `databuild.pack`; nothing here is used by the generic pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from databuild.contracts import completion_body, row_schema
from databuild.pack import Tool, colour_pack, validation_schema
from databuild.pack import dumps as dumps  # re-exported for the colour tests

PACK = colour_pack()
TOOLS: tuple[str, ...] = PACK.names
VECTOR_TOOLS: tuple[str, ...] = tuple(tool.name for tool in PACK.tools if tool.is_cosine)
ROW_SCHEMA: dict[str, Any] = row_schema(PACK)
ROW_COLUMNS: tuple[str, ...] = tuple(ROW_SCHEMA)
FILTER_TOOL = "filter"


@dataclass(frozen=True)
class Param:
    """One numeric slot of a tool's parameter vector."""

    tool: str
    key: str
    sub: str | None
    minimum: float
    maximum: float
    position: int


def tool(name: str) -> Tool:
    return PACK.tool(name)


def params(name: str) -> tuple[Param, ...]:
    """Numeric parameters of a tool in canonical order (filter: only `intensity`)."""
    slots = PACK.tool(name).numeric_slots
    return tuple(
        Param(name, s.key, s.sub, float(s.minimum or 0), float(s.maximum or 0), i) for i, s in enumerate(slots)
    )


def lut_names() -> tuple[str, ...]:
    return next(slot.enum for slot in PACK.tool(FILTER_TOOL).slots if slot.kind == "enum")


def load_schema(name: str) -> dict[str, Any]:
    """A tool's parameters as a JSON Schema that `jsonschema` checks like the snapshot (enums in any case)."""
    return validation_schema(PACK.tool(name))


def canonical_object(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    return PACK.tool(name).canonical(obj)


def is_used(name: str, canonical: dict[str, Any]) -> bool:
    return PACK.tool(name).is_used(canonical)


def sparse_json(canonical: pl.Expr) -> pl.Expr:
    """The completion body of either cosine colour tool (zeros and emptied colours left out)."""
    for name in VECTOR_TOOLS:
        canonical = completion_body(canonical, PACK.tool(name))
    return canonical
