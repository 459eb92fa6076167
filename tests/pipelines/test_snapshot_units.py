"""Unit tests of the snapshot's building blocks: normalization, extraction, canonical form, split, tie-breaking."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from databuild.normalize import normalize_intent
from databuild.outputs import parse_tool_outputs
from databuild.packs.colour.reference import TOOLS, canonical_object, dumps, load_schema, lut_names, params, sparse_json
from pipelines.snapshot import test_threshold as split_threshold
from tests.pipelines.snapshot_helpers import ZERO_ADJUST, ZERO_SELECTIVE


def parse(tool: str, *texts: str | None) -> list[tuple[str | None, str | None]]:
    frame = pl.DataFrame(
        {"key": list(range(len(texts))), "tool": [tool] * len(texts), "text": list(texts)},
        schema={"key": pl.Int64, "tool": pl.String, "text": pl.String},
    )
    out = parse_tool_outputs(frame).sort("key")
    return list(zip(out["reason"].to_list(), out["canonical"].to_list(), strict=True))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Golden   Hour ", "golden hour"),
        ("ＧＯＬＤＥＮ hour", "golden hour"),  # NFKC folds full-width letters
        ("Straße", "strasse"),  # casefold, not lower
        ("x\u3000-\tray\x1f", "x - ray"),  # unicode whitespace, including \x1f, splits
        ("ﬁlm", "film"),  # NFKC expands the ligature
        ("   ", ""),
    ],
)
def test_normalize_intent_is_nfkc_casefold_split(raw: str, expected: str) -> None:
    assert normalize_intent(raw) == expected


def test_extraction_uses_the_last_json_marker_and_the_first_balanced_object() -> None:
    results = parse(
        "adjust",
        'ADJUST: I think JSON: {"contrast": 5} is too weak. JSON: {"contrast": 10} and more {"x": 1}',
        'no marker, answer {"hue": 360} then {"hue": 1}',
        'JSON: {"contrast": 10',  # never closes
        "JSON: {'contrast': 10}",  # balanced, not JSON
        "nothing at all",
        'JSON: {"contrast": 1,}',  # trailing comma is not JSON
        None,
    )
    assert results[0] == (None, dumps(ZERO_ADJUST | {"contrast": 10}))
    assert results[1] == (None, dumps(ZERO_ADJUST | {"hue": 360}))
    assert results[2] == ("no_json", None)
    assert results[3] == ("invalid_json", None)
    assert results[4] == ("no_json", None)
    assert results[5] == ("invalid_json", None)
    assert results[6] == (None, None)


def test_braces_inside_strings_do_not_end_the_object() -> None:
    # '{"name": "a}b", ...}': the first '}' is inside a string, so the object ends at the second one;
    # "a}b" is then no LUT name: schema_violation (not invalid_json).
    assert parse("filter", 'JSON: {"name": "a}b", "intensity": 3}') == [("schema_violation", None)]


def test_schema_violations() -> None:
    results = parse(
        "adjust",
        'JSON: {"contrast": 101}',  # out of range
        'JSON: {"hue": -1}',  # hue is 0..360
        'JSON: {"contrast": "10"}',  # string value
        'JSON: {"contrast": true}',  # boolean is not a number
        'JSON: {"glow": 3}',  # unknown key
        'JSON: {"contrast": null}',
    )
    assert [reason for reason, _ in results] == ["schema_violation"] * 6
    selective = parse("selective_adjust", 'JSON: {"red": 5}', 'JSON: {"red": {"hue": 1}}', 'JSON: {"pink": {}}')
    assert [reason for reason, _ in selective] == ["schema_violation"] * 3
    filters = parse("filter", 'JSON: {"name": "sepia", "intensity": 50}', 'JSON: {"name": "vivid", "intensity": 101}')
    assert [reason for reason, _ in filters] == ["schema_violation"] * 2


def test_canonical_form() -> None:
    adjust = parse("adjust", 'JSON: {"temperature": 30.5, "exposure": -4.5, "contrast": 0.4}', "JSON: {}")
    # rounded half away from zero: 30.5 -> 31, -4.5 -> -5, 0.4 -> 0; missing keys are 0; canonical key order
    assert adjust[0] == (None, dumps(ZERO_ADJUST | {"exposure": -5, "temperature": 31}))
    assert adjust[1] == (None, dumps(ZERO_ADJUST))
    selective = parse("selective_adjust", 'JSON: {"blue": {"luminance": -5}, "red": {"saturation": 20}}')
    expected = ZERO_SELECTIVE | {"red": {"saturation": 20, "luminance": 0}, "blue": {"saturation": 0, "luminance": -5}}
    assert selective[0] == (None, dumps(expected))
    filters = parse(
        "filter",
        'JSON: {"name": "FADED_highnoon", "intensity": 40}',
        "JSON: {}",
        'JSON: {"name": "vivid", "intensity": 0}',
        'JSON: {"intensity": 50}',
    )
    assert filters[0] == (None, '{"name":"faded_HighNoon","intensity":40}')
    assert [c for _, c in filters[1:]] == ['{"name":"none","intensity":0}'] * 3


def test_python_reference_canonical_form_agrees_with_sql() -> None:
    obj = {"temperature": 30.5, "exposure": -4.5}
    assert dumps(canonical_object("adjust", obj)) == parse("adjust", "JSON: " + json.dumps(obj))[0][1]


def test_sparse_completion_keeps_only_nonzero_values() -> None:
    frame = pl.DataFrame(
        {
            "c": [
                dumps(ZERO_ADJUST | {"contrast": 10, "linearOffset": -3}),
                dumps(ZERO_ADJUST),
                dumps(ZERO_SELECTIVE | {"orange": {"saturation": 0, "luminance": 20}}),
                dumps(ZERO_SELECTIVE),
            ]
        }
    )
    out = frame.select(sparse_json(pl.col("c")))["c"].to_list()
    assert out == ['{"contrast":10,"linearOffset":-3}', "{}", '{"orange":{"luminance":20}}', "{}"]


def reference_split(intent: str, seed: int, fraction: float) -> str:
    h = int.from_bytes(hashlib.sha256(f"{seed}\x1f{intent}".encode()).digest()[:8], "big")
    return "test" if h < fraction * 2**64 else "train"


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 1.0, 1e-300, 0.9999999999])
def test_split_threshold_is_exact(fraction: float) -> None:
    threshold = split_threshold(fraction)
    for h in (0, threshold - 1, threshold, 2**64 - 1):
        if 0 <= h < 2**64:
            assert (h < threshold) == (h < fraction * 2**64)


def test_split_formula_in_sql_matches_the_issue() -> None:
    import duckdb

    from databuild.resources import read_sql

    intents = ["golden hour", "the matrix", "cold tone", "x-ray", "ünïcödé", "'); drop table x; --"]
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE intent_stats AS SELECT unnest($i) AS intent, CAST(NULL AS VARCHAR) AS exclusion", {"i": intents}
    )
    con.execute("CREATE TABLE touched_intents AS SELECT intent FROM intent_stats")  # a build that carries nothing
    for seed, fraction in ((0, 0.5), (7, 0.3), (0, 0.0), (0, 1.0)):
        con.execute(read_sql("50_split"), {"seed": str(seed), "test_threshold": split_threshold(fraction)})
        got = dict(con.execute("SELECT intent, split FROM split").fetchall())
        assert got == {i: reference_split(i, seed, fraction) for i in intents}


# Differential test: the SQL validation accepts exactly what `jsonschema` accepts.
_numbers = st.one_of(
    st.integers(-150, 400),
    st.floats(-150, 400, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


def _objects(tool: str) -> st.SearchStrategy[dict]:
    keys = [p.key for p in params(tool)] + ["name", "glow"]
    if tool == "selective_adjust":
        inner = st.dictionaries(st.sampled_from(["saturation", "luminance", "hue"]), _numbers, max_size=3)
        return st.dictionaries(st.sampled_from(keys), st.one_of(inner, _numbers), max_size=4)
    if tool == "filter":
        names = st.one_of(
            st.sampled_from(lut_names()),
            st.sampled_from([n.upper() for n in lut_names()]),
            st.text(max_size=6),
            st.integers(),
        )
        return st.fixed_dictionaries({}, optional={"name": names, "intensity": _numbers, "glow": _numbers})
    return st.dictionaries(st.sampled_from(keys), _numbers, max_size=5)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_sql_validation_agrees_with_jsonschema(data: st.DataObject) -> None:
    for tool in TOOLS:
        objects = data.draw(st.lists(_objects(tool), min_size=20, max_size=40), label=tool)
        results = parse(tool, *["JSON: " + json.dumps(obj) for obj in objects])
        validator = jsonschema.Draft202012Validator(load_schema(tool))
        for obj, (reason, canonical) in zip(objects, results, strict=True):
            assert (reason is None) == validator.is_valid(obj), (tool, obj, reason)
            if reason is None:
                assert canonical == dumps(canonical_object(tool, obj))


def test_non_standard_json_is_not_accepted() -> None:
    # NaN / Infinity are not JSON (DuckDB's reader accepts them): invalid_json, like a trailing comma.
    # A key given twice is ambiguous (Python keeps the last value, DuckDB the first): schema_violation.
    results = parse(
        "adjust",
        'JSON: {"contrast": NaN}',
        'JSON: {"contrast": -Infinity}',
        'JSON: {"contrast": 1, "contrast": 500}',
    )
    assert results == [("invalid_json", None), ("invalid_json", None), ("schema_violation", None)]
    nested = parse("selective_adjust", 'JSON: {"red": {"saturation": 1, "saturation": 90}}')
    assert nested == [("schema_violation", None)]
    assert parse("filter", 'JSON: {"name": "NaN-ish", "intensity": 3}') == [("schema_violation", None)]
