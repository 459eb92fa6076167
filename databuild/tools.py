"""The three colour tools, as their JSON Schemas (`schemas/<tool>.schema.json`) define them.

The schemas are the single source of truth for keys, canonical order and ranges; this module only reads them and
offers the derived forms the rest of the code needs (a parameter table for SQL, canonical JSON, vectors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from databuild.resources import resource_path

TOOLS: tuple[str, ...] = ("adjust", "selective_adjust", "filter")
VECTOR_TOOLS: tuple[str, ...] = ("adjust", "selective_adjust")


@cache
def tool_schema(tool: str) -> dict[str, Any]:
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}")
    return json.loads(resource_path("schemas", f"{tool}.schema.json").read_text(encoding="utf-8"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads(resource_path("schemas", f"{name}.schema.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Param:
    """One numeric slot of a tool's parameter vector."""

    tool: str
    key: str  # top-level key
    sub: str | None  # nested key (selective_adjust colour -> saturation/luminance)
    minimum: float
    maximum: float
    position: int  # index in the tool's canonical vector


@cache
def params(tool: str) -> tuple[Param, ...]:
    """Numeric parameters of a tool in canonical order (filter: only `intensity`)."""
    out: list[Param] = []
    for key, spec in tool_schema(tool)["properties"].items():
        if spec.get("type") == "object":
            for sub, sub_spec in spec["properties"].items():
                out.append(Param(tool, key, sub, sub_spec["minimum"], sub_spec["maximum"], len(out)))
        elif spec.get("type") == "number":
            out.append(Param(tool, key, None, spec["minimum"], spec["maximum"], len(out)))
    return tuple(out)


@cache
def lut_names() -> tuple[str, ...]:
    return tuple(tool_schema("filter")["properties"]["name"]["x-lut-names"])


def vector_length(tool: str) -> int:
    return len(params(tool))


def canonical_object(tool: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Canonical form of an already schema-valid object: all keys in order, missing 0, integers.

    The snapshot does this set-based in SQL; this reference version serves tests, augment and the student.
    """
    if tool == "filter":
        intensity = _round_half_away(obj.get("intensity", 0))
        name = obj.get("name", "none")
        canonical_name = {n.casefold(): n for n in lut_names()}.get(str(name).casefold(), "none")
        if intensity == 0 or canonical_name == "none":
            return {"name": "none", "intensity": 0}
        return {"name": canonical_name, "intensity": intensity}
    result: dict[str, Any] = {}
    for p in params(tool):
        if p.sub is None:
            result[p.key] = _round_half_away(obj.get(p.key, 0))
        else:
            result.setdefault(p.key, {})[p.sub] = _round_half_away((obj.get(p.key) or {}).get(p.sub, 0))
    return result


def dumps(obj: Any) -> str:
    """Compact JSON, the serialization every canonical string uses."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def to_vector(tool: str, canonical: dict[str, Any]) -> list[float]:
    """The parameter vector of a canonical adjust / selective_adjust object."""
    return [float(canonical[p.key] if p.sub is None else canonical[p.key][p.sub]) for p in params(tool)]


def is_used(tool: str, canonical: dict[str, Any]) -> bool:
    if tool == "filter":
        return canonical.get("name", "none") != "none"
    return any(v != 0 for v in to_vector(tool, canonical))


def sparse_object(tool: str, canonical: dict[str, Any]) -> dict[str, Any]:
    """Only the non-zero parameters, canonical order (the SFT completion); the filter object stays whole."""
    if tool == "filter":
        return canonical
    if tool == "adjust":
        return {k: v for k, v in canonical.items() if v != 0}
    out: dict[str, Any] = {}
    for colour, values in canonical.items():
        kept = {k: v for k, v in values.items() if v != 0}
        if kept:
            out[colour] = kept
    return out


def canonical_struct(tool: str) -> Any:
    """The Polars dtype of a tool's canonical object (for `str.json_decode`), from the schema's parameters."""
    import polars as pl

    if tool == "filter":
        return pl.Struct({"name": pl.String, "intensity": pl.Int64})
    fields: dict[str, Any] = {}
    for p in params(tool):
        if p.sub is None:
            fields[p.key] = pl.Int64
        else:
            fields.setdefault(p.key, {})[p.sub] = pl.Int64
    return pl.Struct({key: pl.Struct(value) if isinstance(value, dict) else value for key, value in fields.items()})


def _round_half_away(value: Any) -> int:
    number = float(value)
    return int(number + 0.5) if number >= 0 else -int(-number + 0.5)
