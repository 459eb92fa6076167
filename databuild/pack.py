"""Tool packs: the tools a teacher calls, read from the OpenAI `tools` list a team already has.

A pack file is JSON: either a list of function tools (`[{"type": "function", "function": {...}}, ...]`) or an
object `{"name", "tools": [...], "request", "similar_examples"}`. Each tool's `parameters` is a small JSON Schema
(see `_leaf` and `_tool` for what is supported; anything else is refused naming the tool and the keyword).

Everything the other layers need is derived here: the canonical form of an output (keys in schema order, defaults
filled in, numbers rounded to `multipleOf`, enums in their canonical spelling, neutral outputs as the neutral
object), whether a tool is "used", the numeric vector, the quality kind, the student prompt. The built-in colour
pack is `databuild/packs/colour/tools.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FIXED_COLUMNS = ("intent", "intent_text", "n_calls", "source", "augmented_from", "iteration", "split")
PLACEHOLDER = "{intent}"
COLOUR_PACK_FILE = Path(__file__).resolve().parent / "packs" / "colour" / "tools.json"
ANNOTATIONS = ("description", "title", "$comment", "examples")  # accepted everywhere, and ignored
TOOL_KEYWORDS = ("type", "properties", "required", "additionalProperties", "$schema", "$id", *ANNOTATIONS)
LEAF_KEYWORDS = {
    "number": ("type", "minimum", "maximum", "default", "multipleOf", *ANNOTATIONS),
    "integer": ("type", "minimum", "maximum", "default", "multipleOf", *ANNOTATIONS),
    "string": ("type", "enum", "default", *ANNOTATIONS),
}
NESTED_KEYWORDS = ("type", "properties", "additionalProperties", *ANNOTATIONS)


@dataclass(frozen=True)
class Slot:
    """One leaf of a tool's parameters (a number, an integer or an enum string), in canonical order."""

    key: str  # top-level key
    sub: str | None  # key inside a nested object, or None
    kind: str  # 'number' | 'integer' | 'enum'
    minimum: float | None = None
    maximum: float | None = None
    step: float = 1.0  # multipleOf
    default: Any = 0
    enum: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.key if self.sub is None else f"{self.key}.{self.sub}"

    @property
    def path(self) -> str:
        return f'$."{self.key}"' + (f'."{self.sub}"' if self.sub else "")

    @property
    def decimals(self) -> int:
        exponent = Decimal(repr(self.step)).normalize().as_tuple().exponent
        return max(0, -int(exponent))

    def canonical_value(self, value: Any) -> Any:
        """The canonical form of a schema-valid value (None = absent: the default)."""
        if value is None:
            return self.default
        if self.kind == "enum":
            return {name.casefold(): name for name in self.enum}[str(value).casefold()]
        return round_to_step(float(value), self.step, self.decimals)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    keys: tuple[str, ...]  # top-level keys, schema order
    objects: dict[str, tuple[str, ...]]  # nested object key -> its keys
    slots: tuple[Slot, ...]
    required: tuple[str, ...] = ()
    strict: bool = False  # additionalProperties: false (top level)
    strict_objects: tuple[str, ...] = ()  # nested objects with additionalProperties: false
    quality: str | tuple[str, ...] = "cosine"  # 'cosine' or the keys an exact match compares
    neutral_if: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)  # the JSON Schema as given

    @property
    def numeric_slots(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.kind != "enum")

    @property
    def is_cosine(self) -> bool:
        return self.quality == "cosine"

    @property
    def exact_keys(self) -> tuple[str, ...]:
        return () if isinstance(self.quality, str) else self.quality

    @property
    def written_whole(self) -> bool:
        """Exact-quality tools are written whole in completions; cosine tools leave out default values."""
        return not self.is_cosine

    def neutral(self) -> dict[str, Any]:
        return self._assemble({slot: slot.default for slot in self.slots})

    def canonical(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Canonical form of a schema-valid object (the snapshot does the same in SQL, set-based)."""
        values = {}
        for slot in self.slots:
            raw = obj.get(slot.key) if slot.sub is None else (obj.get(slot.key) or {}).get(slot.sub)
            values[slot] = slot.canonical_value(raw)
        if self._is_neutral(values):
            return self.neutral()
        return self._assemble(values)

    def _is_neutral(self, values: dict[Slot, Any]) -> bool:
        if all(values[slot] == slot.default for slot in self.slots):
            return True
        by_key = {slot.key: values[slot] for slot in self.slots if slot.sub is None}
        return any(by_key.get(key) == value for key, value in self.neutral_if.items())

    def _assemble(self, values: dict[Slot, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for slot in self.slots:
            if slot.sub is None:
                result[slot.key] = values[slot]
            else:
                result.setdefault(slot.key, {})[slot.sub] = values[slot]
        return result

    def is_used(self, canonical: dict[str, Any]) -> bool:
        return canonical != self.neutral()

    def vector(self, canonical: dict[str, Any]) -> list[float]:
        """The numeric slots of a canonical object, in schema order."""
        return [float(canonical[s.key] if s.sub is None else canonical[s.key][s.sub]) for s in self.numeric_slots]

    def completion_object(self, canonical: dict[str, Any]) -> dict[str, Any]:
        """What a student writes: the whole object (exact tools) or only the non-default values (cosine tools)."""
        if self.written_whole:
            return canonical
        out: dict[str, Any] = {}
        for slot in self.slots:
            value = canonical[slot.key] if slot.sub is None else canonical[slot.key][slot.sub]
            if value == slot.default:
                continue
            if slot.sub is None:
                out[slot.key] = value
            else:
                out.setdefault(slot.key, {})[slot.sub] = value
        return out

    def render_prompt(self, intent: str) -> str:
        before, after = self.prompt_parts()
        return f"{before}{intent}{after}"

    def prompt_parts(self) -> tuple[str, str]:
        before, after = self.prompt.split(PLACEHOLDER)
        return before, after


@dataclass(frozen=True)
class ToolPack:
    name: str
    tools: tuple[Tool, ...]
    request: str | None
    similar_examples: tuple[tuple[str, str], ...]
    raw: bytes  # the pack file as given: stored in each version, hashed into the fingerprint

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(tool.name for tool in self.tools)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def tool(self, name: str) -> Tool:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)

    def row_columns(self) -> tuple[str, ...]:
        """The `rows` dataset's columns, in order: fixed ones around one canonical column and one flag per tool."""
        return (
            "intent",
            "intent_text",
            *self.names,
            *(f"{name}_used" for name in self.names),
            "n_calls",
            "source",
            "augmented_from",
            "iteration",
        )

    def manifest_entry(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "tools": list(self.names)}

    def prompts_sha256(self) -> str:
        digest = hashlib.sha256()
        for tool in self.tools:
            digest.update(tool.prompt.encode())
        return digest.hexdigest()


def round_to_step(value: float, step: float, decimals: int) -> int | float:
    """Half away from zero to the nearest multiple of `step`; integral results as int (as the SQL writes them)."""
    rounded = round_half_away(value / step) * step
    if decimals:
        scale = 10.0**decimals
        rounded = round_half_away(rounded * scale) / scale
    return int(rounded) if float(rounded).is_integer() and abs(rounded) < 1e15 else float(rounded)


def round_half_away(number: float) -> float:
    return float(int(number + 0.5)) if number >= 0 else -float(int(-number + 0.5))


def dumps(obj: Any) -> str:
    """Compact JSON, the serialization every canonical string uses."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@cache
def colour_pack() -> ToolPack:
    """The built-in pack: the paper's three colour tools."""
    return load_pack(COLOUR_PACK_FILE)


def load_pack(path: Path | str) -> ToolPack:
    """Read and check a pack file; every problem is one `DatabuildError` naming the file (and tool)."""
    path = Path(path)
    if not path.is_file():
        raise DatabuildError(f"tool pack {path} not found")
    raw = path.read_bytes()
    return parse_pack(raw, str(path), default_name=path.stem if path != COLOUR_PACK_FILE else "colour")


def stored_pack(path: Path, name: str | None) -> ToolPack:
    """The pack stored beside a version or a run (`pack.json`, byte for byte); the colour pack where there is none
    (written before tool packs). `name`: the pack's recorded name (a bare list has none of its own)."""
    if not path.is_file():
        return colour_pack()
    return parse_pack(path.read_bytes(), str(path), default_name=name or "pack")


def parse_pack(raw: bytes, source: str, default_name: str) -> ToolPack:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DatabuildError(f"tool pack {source}: not JSON ({exc})") from None
    if isinstance(document, list):
        document = {"tools": document}
    if not isinstance(document, dict) or not isinstance(document.get("tools"), list):
        raise DatabuildError(f"tool pack {source}: expected a list of tools or an object with a 'tools' list")
    name = document.get("name", default_name)
    request = document.get("request")
    examples = document.get("similar_examples", [])
    if not isinstance(name, str) or not name:
        raise DatabuildError(f"tool pack {source}: 'name' must be a non-empty string")
    if request is not None and not isinstance(request, str):
        raise DatabuildError(f"tool pack {source}: 'request' must be a string")
    if not isinstance(examples, list) or not all(
        isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e) for e in examples
    ):
        raise DatabuildError(f"tool pack {source}: 'similar_examples' must be a list of [input, similar] pairs")
    tools = tuple(_tool(entry, source, index) for index, entry in enumerate(document["tools"]))
    _check_names(tools, source)
    pairs = tuple((a, b) for a, b in examples)
    return ToolPack(name=name, tools=tools, request=request, similar_examples=pairs, raw=raw)


def _check_names(tools: tuple[Tool, ...], source: str) -> None:
    if not tools:
        raise DatabuildError(f"tool pack {source}: a pack needs at least one tool")
    seen: set[str] = set()
    for tool in tools:
        if tool.name in seen:
            raise DatabuildError(f"tool pack {source}: tool {tool.name!r} appears twice")
        seen.add(tool.name)
    for tool in tools:
        if tool.name.endswith("_used") and tool.name[: -len("_used")] in seen:
            raise DatabuildError(f"tool pack {source}: tool {tool.name!r} collides with the row column of that name")


def _tool(entry: Any, source: str, index: int) -> Tool:
    function = entry.get("function") if isinstance(entry, dict) else None
    if not isinstance(function, dict) or entry.get("type", "function") != "function":
        raise DatabuildError(
            f"tool pack {source}: tool #{index + 1} is not a function tool ({{'type': 'function', …}})"
        )
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise DatabuildError(f"tool pack {source}: tool name {name!r} must match [a-z][a-z0-9_]*")
    if name in FIXED_COLUMNS:
        raise DatabuildError(f"tool pack {source}: tool name {name!r} collides with a fixed row column")

    def problem(message: str) -> DatabuildError:
        return DatabuildError(f"tool pack {source}, tool {name}: {message}")

    schema = function.get("parameters")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise problem("'parameters' must be a JSON Schema with type 'object'")
    _refuse_keywords(schema, TOOL_KEYWORDS, problem, "parameters")
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise problem("'parameters' needs 'properties' with at least one parameter")
    slots: list[Slot] = []
    objects: dict[str, tuple[str, ...]] = {}
    strict_objects: list[str] = []
    for key, spec in properties.items():
        _check_key(key, problem)
        if isinstance(spec, dict) and spec.get("type") == "object":
            subs, strict = _nested(key, spec, problem, slots)
            objects[key] = subs
            if strict:
                strict_objects.append(key)
        else:
            slots.append(_leaf(key, None, spec, problem))
    required = schema.get("required", [])
    if not isinstance(required, list) or any(k not in properties for k in required):
        raise problem("'required' must list keys of 'properties'")
    tool = Tool(
        name=name,
        description=str(function.get("description") or ""),
        keys=tuple(properties),
        objects=objects,
        slots=tuple(slots),
        required=tuple(required),
        strict=_strictness(schema, problem, "parameters"),
        strict_objects=tuple(strict_objects),
        parameters=schema,
    )
    return _annotated(tool, function, problem)


def _nested(key: str, spec: dict[str, Any], problem: Any, slots: list[Slot]) -> tuple[tuple[str, ...], bool]:
    _refuse_keywords(spec, NESTED_KEYWORDS, problem, key)
    properties = spec.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise problem(f"nested object {key!r} needs 'properties'")
    for sub, sub_spec in properties.items():
        _check_key(sub, problem)
        leaf = _leaf(key, sub, sub_spec, problem)
        if leaf.kind == "enum":
            raise problem(f"nested object {key!r}: only numbers are supported inside ({sub!r} is a string)")
        slots.append(leaf)
    return tuple(properties), _strictness(spec, problem, key)


def _leaf(key: str, sub: str | None, spec: Any, problem: Any) -> Slot:
    label = key if sub is None else f"{key}.{sub}"
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "object":
        raise problem(f"{label!r}: objects nest one level at most")
    if kind not in LEAF_KEYWORDS:
        raise problem(f"{label!r}: unsupported type {kind!r} (number, integer, string with enum, or object)")
    _refuse_keywords(spec, LEAF_KEYWORDS[kind], problem, label)
    if kind == "string":
        values = spec.get("enum")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise problem(f"{label!r}: a string needs an 'enum' of strings")
        if "default" not in spec:
            raise problem(f"{label!r}: an enum needs a 'default'")
        enum = tuple(dict.fromkeys(values))
        if not isinstance(spec["default"], str) or spec["default"].casefold() not in {v.casefold() for v in enum}:
            raise problem(f"{label!r}: default {spec['default']!r} is not one of its enum values")
        slot = Slot(key, sub, "enum", enum=enum, default=spec["default"])
        return Slot(key, sub, "enum", enum=enum, default=slot.canonical_value(spec["default"]))
    numbers = {k: spec.get(k) for k in ("minimum", "maximum", "default", "multipleOf")}
    for keyword, value in numbers.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise problem(f"{label!r}: {keyword} must be a number")
    step = float(numbers["multipleOf"] or 1)
    if step <= 0:
        raise problem(f"{label!r}: multipleOf must be positive")
    bare = Slot(key, sub, kind, numbers["minimum"], numbers["maximum"], step)
    default = bare.canonical_value(float(numbers["default"] or 0))
    return Slot(key, sub, kind, numbers["minimum"], numbers["maximum"], step, default)


def _annotated(tool: Tool, function: dict[str, Any], problem: Any) -> Tool:
    """Apply `x-quality`, `x-neutral-if` and `x-prompt` (or their defaults)."""
    leaves = {slot.key: slot for slot in tool.slots if slot.sub is None}
    quality = function.get("x-quality")
    if quality is None:
        enums = tuple(slot.key for slot in leaves.values() if slot.kind == "enum")
        quality = {"exact": list(enums)} if enums else "cosine"
    if quality == "cosine":
        if not tool.numeric_slots:
            raise problem("x-quality 'cosine' needs numeric parameters")
        resolved: str | tuple[str, ...] = "cosine"
    elif isinstance(quality, dict) and set(quality) == {"exact"} and isinstance(quality["exact"], list):
        for key in quality["exact"]:
            if key not in leaves:
                raise problem(f"x-quality names {key!r}, which is not a parameter of the tool")
        resolved = tuple(quality["exact"])
    else:
        raise problem("x-quality must be 'cosine' or {'exact': [keys]}")
    neutral_if = function.get("x-neutral-if", {})
    if not isinstance(neutral_if, dict):
        raise problem("x-neutral-if must be an object {key: value}")
    canonical_neutral_if = {}
    for key, value in neutral_if.items():
        if key not in leaves:
            raise problem(f"x-neutral-if names {key!r}, which is not a parameter of the tool")
        canonical_neutral_if[key] = _neutral_value(leaves[key], value, problem)
    prompt = function.get("x-prompt")
    if prompt is None:
        prompt = default_prompt(replace(tool, quality=resolved))
    if not isinstance(prompt, str) or prompt.count(PLACEHOLDER) != 1:
        raise problem(f"x-prompt must be a string containing {PLACEHOLDER} exactly once")
    return replace(tool, quality=resolved, neutral_if=canonical_neutral_if, prompt=prompt)


def _neutral_value(slot: Slot, value: Any, problem: Any) -> Any:
    if slot.kind == "enum":
        if not isinstance(value, str) or value.casefold() not in {v.casefold() for v in slot.enum}:
            raise problem(f"x-neutral-if: {value!r} is not a value of {slot.key!r}")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise problem(f"x-neutral-if: {slot.key!r} takes a number")
    return slot.canonical_value(value)


def _refuse_keywords(spec: dict[str, Any], allowed: tuple[str, ...], problem: Any, where: str) -> None:
    for keyword in spec:
        if keyword not in allowed:
            raise problem(f"{where!r}: unsupported schema keyword {keyword!r}")


def _strictness(spec: dict[str, Any], problem: Any, where: str) -> bool:
    extra = spec.get("additionalProperties", True)
    if extra not in (True, False):
        raise problem(f"{where!r}: additionalProperties must be true or false")
    return extra is False


def _check_key(key: str, problem: Any) -> None:
    if not KEY_NAME.match(key):
        raise problem(f"parameter name {key!r} must match [A-Za-z_][A-Za-z0-9_]*")


def default_prompt(tool: Tool) -> str:
    """A student prompt from the tool's name, description and parameters (when the pack gives no `x-prompt`)."""
    parts = []
    for slot in tool.slots:
        default = f", default {slot.default}" if slot.default != 0 else ""
        if slot.kind == "enum":
            parts.append(f"{slot.label} (one of {', '.join(slot.enum)}{default})")
        else:
            low = "" if slot.minimum is None else _number_text(slot.minimum)
            high = "" if slot.maximum is None else _number_text(slot.maximum)
            span = f" {low}..{high}" if low or high else ""
            step = f" in steps of {_number_text(slot.step)}" if slot.step != 1 else ""
            kind = "integer" if slot.kind == "integer" else "number"
            parts.append(f"{slot.label} ({kind}{span}{step}{default})")
    how = (
        "Give every parameter."
        if tool.written_whole
        else "Leave out parameters that keep their default; answer {} if the tool is not needed."
    )
    lines = [
        f"Tool {tool.name}: {tool.description}".rstrip(": ").rstrip(),
        f"Parameters: {'; '.join(parts)}. {how}",
        f"User request: {PLACEHOLDER}",
        'Write "Parameters:" followed by a JSON object.',
    ]
    return "\n".join(lines)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def validation_schema(tool: Tool) -> dict[str, Any]:
    """The tool's parameters as a JSON Schema that `jsonschema` applies like the snapshot: enum values match in any
    case (a case-insensitive pattern), defaults and annotations dropped."""

    def leaf(spec: dict[str, Any]) -> dict[str, Any]:
        if spec.get("type") == "object":
            out = {k: v for k, v in spec.items() if k in ("type", "additionalProperties")}
            return out | {"properties": {k: leaf(v) for k, v in spec["properties"].items()}}
        if "enum" in spec:
            alternatives = "|".join(re.escape(value) for value in spec["enum"])
            return {"type": "string", "pattern": f"^(?i:{alternatives})$"}
        return {k: v for k, v in spec.items() if k in ("type", "minimum", "maximum")}

    schema = {k: v for k, v in tool.parameters.items() if k in ("type", "required", "additionalProperties")}
    return schema | {"properties": {k: leaf(v) for k, v in tool.parameters["properties"].items()}}
