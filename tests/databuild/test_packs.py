"""Tool pack files: what is refused (one `Error:` line naming file, tool and problem; nothing written), and the
generalized canonical form, checked by hand and against the snapshot's SQL model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from databuild.cli import app
from databuild.errors import DatabuildError
from databuild.outputs import parse_tool_outputs
from databuild.pack import colour_pack, dumps, load_pack, parse_pack

FIXTURE_LOG = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"


def function(name: str = "set_x", **extra: Any) -> dict[str, Any]:
    parameters = extra.pop("parameters", {"type": "object", "properties": {"level": {"type": "number"}}})
    return {"type": "function", "function": {"name": name, "parameters": parameters, **extra}}


def pack_of(*tools: dict[str, Any]) -> bytes:
    return json.dumps(list(tools)).encode()


# A pack that exercises every supported keyword: integer, multipleOf, a non-zero default, an enum with a default,
# a nested object, required, x-neutral-if and both quality kinds.
RICH = [
    function(
        "dimmer",
        parameters={
            "type": "object",
            "additionalProperties": False,
            "required": ["mode"],
            "properties": {
                "level": {"type": "integer", "minimum": 0, "maximum": 10},
                "warmth": {"type": "number", "minimum": -1, "maximum": 1, "multipleOf": 0.25, "default": 0.5},
                "mode": {"type": "string", "enum": ["off", "Day", "night"], "default": "off"},
                "zone": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"north": {"type": "number"}, "south": {"type": "number", "default": 2}},
                },
            },
        },
        **{"x-neutral-if": {"mode": "off"}, "x-quality": "cosine"},
    ),
    function(
        "fan",
        parameters={
            "type": "object",
            "properties": {"speed": {"type": "string", "enum": ["lo", "hi"], "default": "lo"}},
        },
    ),  # fmt: skip
]


def rich_pack() -> Any:
    return parse_pack(json.dumps(RICH).encode(), "rich.json", "rich")


# --- refusals ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not JSON"),
        (b'{"tools": {}}', "expected a list of tools or an object with a 'tools' list"),
        (b"[]", "a pack needs at least one tool"),
        (pack_of(function("Bad-Name")), "tool name 'Bad-Name' must match [a-z][a-z0-9_]*"),
        (pack_of(function("intent")), "tool name 'intent' collides with a fixed row column"),
        (pack_of(function(), function()), "tool 'set_x' appears twice"),
        (
            pack_of(function(parameters={"type": "object", "properties": {"a": {"type": "number", "pattern": "x"}}})),
            "tool set_x: 'a': unsupported schema keyword 'pattern'",
        ),
        (
            pack_of(function(parameters={"type": "object", "properties": {"a": {"type": "array"}}})),
            "tool set_x: 'a': unsupported type 'array'",
        ),
        (
            pack_of(function(parameters={"type": "object", "properties": {"m": {"type": "string", "enum": ["a"]}}})),
            "tool set_x: 'm': an enum needs a 'default'",
        ),
        (pack_of(function(**{"x-quality": {"exact": ["nope"]}})), "tool set_x: x-quality names 'nope'"),
        (pack_of(function(**{"x-neutral-if": {"nope": 0}})), "tool set_x: x-neutral-if names 'nope'"),
        (pack_of(function(**{"x-prompt": "no placeholder"})), "tool set_x: x-prompt must be a string containing"),
        (
            pack_of(
                function(
                    parameters={
                        "type": "object",
                        "properties": {
                            "o": {"type": "object", "properties": {"p": {"type": "object", "properties": {}}}}
                        },
                    }
                )
            ),
            "tool set_x: 'o.p': objects nest one level at most",
        ),  # fmt: skip
    ],
)
def test_bad_pack_is_one_error_line_and_writes_nothing(tmp_path: Path, content: bytes, expected: str) -> None:
    pack = tmp_path / "pack.json"
    pack.write_bytes(content)
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["snapshot", "--logs", str(FIXTURE_LOG), "--tools", str(pack),
                                      "--store", str(store)])  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: tool pack {pack}") and expected in lines[0], lines
    assert not store.exists()


def test_missing_pack_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["snapshot", "--tools", str(tmp_path / "nope.json"), "--store", str(tmp_path)])
    assert result.exit_code == 1 and result.output == f"Error: tool pack {tmp_path / 'nope.json'} not found\n"


def test_a_bare_list_takes_its_name_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_tools.json"
    path.write_bytes(pack_of(function()))
    pack = load_pack(path)
    assert (pack.name, pack.names, pack.request, pack.similar_examples) == ("my_tools", ("set_x",), None, ())


# --- derived forms, by hand ------------------------------------------------------------------------------------------


def test_defaults_quality_and_neutral_of_the_rich_pack() -> None:
    dimmer, fan = rich_pack().tools
    assert dimmer.neutral() == {"level": 0, "warmth": 0.5, "mode": "off", "zone": {"north": 0, "south": 2}}
    assert dimmer.is_cosine and fan.exact_keys == ("speed",)  # an enum makes `exact` the default
    # mode off is neutral whatever else is set; otherwise the canonical form fills defaults in schema order
    assert dimmer.canonical({"level": 3, "mode": "OFF"}) == dimmer.neutral()
    assert dimmer.canonical({"mode": "DAY", "warmth": 0.3, "zone": {"north": 1.5}}) == {
        "level": 0, "warmth": 0.25, "mode": "Day", "zone": {"north": 2, "south": 2},
    }  # fmt: skip
    assert dimmer.canonical({"mode": "night", "warmth": -0.375}) == {
        "level": 0,
        "warmth": -0.5,
        "mode": "night",
        "zone": {"north": 0, "south": 2},
    }  # fmt: skip  (-0.375 / 0.25 = -1.5: half away from zero -> -2 steps)
    assert dimmer.vector(dimmer.neutral()) == [0.0, 0.5, 0.0, 2.0]  # numbers only, schema order
    assert fan.canonical({}) == {"speed": "lo"} and not fan.is_used({"speed": "lo"})


def test_the_colour_pack_keeps_its_contracts() -> None:
    pack = colour_pack()
    assert pack.names == ("adjust", "selective_adjust", "filter")
    flt = pack.tool("filter")
    assert flt.canonical({}) == {"name": "none", "intensity": 0}
    assert flt.canonical({"name": "VIVID", "intensity": 0.5}) == {"name": "vivid", "intensity": 1}
    assert flt.canonical({"name": "vivid", "intensity": 0.4}) == {"name": "none", "intensity": 0}


# --- SQL against the Python reference ----------------------------------------------------------------------------


def _values() -> Any:
    number = st.one_of(st.integers(-3, 12), st.floats(-1.2, 1.2, allow_nan=False).map(lambda x: round(x, 3)))
    return st.fixed_dictionaries(
        {},
        optional={
            "level": number,
            "warmth": number,
            "mode": st.sampled_from(["off", "OFF", "day", "Night", "dusk", 3]),
            "zone": st.fixed_dictionaries({}, optional={"north": number, "south": number, "west": number}),
            "extra": st.just(1),
        },
    )


@settings(max_examples=60, deadline=None)
@given(objects=st.lists(_values(), min_size=1, max_size=8))
def test_sql_canonicalizes_like_the_python_reference(objects: list[dict[str, Any]]) -> None:
    import jsonschema

    from databuild.pack import validation_schema

    pack = rich_pack()
    dimmer = pack.tool("dimmer")
    validator = jsonschema.Draft202012Validator(validation_schema(dimmer))
    frame = pl.DataFrame(
        {"key": list(range(len(objects))), "tool": ["dimmer"] * len(objects), "text": [json.dumps(o) for o in objects]}
    )
    parsed = parse_tool_outputs(frame, pack=pack).sort("key").to_dicts()
    for obj, row in zip(objects, parsed, strict=True):
        # integer kind: 10.5 is not an integer, which jsonschema's integer type also says
        valid = validator.is_valid(obj)
        assert (row["reason"] is None) == valid, (obj, row)
        if valid:
            expected = dimmer.canonical(obj)
            assert row["canonical"] == dumps(expected), obj
            assert row["used"] == dimmer.is_used(expected)


def test_unknown_tools_in_a_pack_file_stay_unknown_tool(tmp_path: Path) -> None:
    pack = tmp_path / "pack.json"
    pack.write_bytes(pack_of(function("adjust_only")))  # the colour log's tools are unknown to this pack
    result = CliRunner().invoke(app, ["snapshot", "--logs", str(FIXTURE_LOG), "--tools", str(pack),
                                      "--store", str(tmp_path / "store"), "--format", "json"])  # fmt: skip
    assert result.exit_code == 1  # nothing valid is left to keep
    assert "unknown_tool" in result.output


def test_parse_errors_name_the_source() -> None:
    with pytest.raises(DatabuildError, match="^tool pack here.json: not JSON"):
        parse_pack(b"\xff", "here.json", "x")
