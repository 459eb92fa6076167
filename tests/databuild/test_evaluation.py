"""Offline metrics: hand-computed cases for every definition edge, and properties (hypothesis)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from databuild.errors import DatabuildError
from databuild.evaluation import (
    evaluate,
    harmonic_mean,
    parameter_matrix,
    read_predictions,
    row_cosines,
    tool_metrics,
)
from databuild.packs.colour.reference import TOOLS, lut_names, params
from databuild.packs.colour.reference import tool as colour_tool
from pipelines.eval_report import render_markdown
from tests.eval_helpers import perfect_predictions, rows_frame, truth_row, write_predictions

NONE_FILTER = '{"name":"none","intensity":0}'


def predictions(*lines: dict[str, Any]) -> pl.DataFrame:
    """Prediction lines as `read_predictions` returns them (tool texts or null)."""
    return pl.DataFrame(
        [{"intent": line["intent"]} | {tool: line.get(tool) for tool in TOOLS} for line in lines],
        schema={"intent": pl.String} | {tool: pl.String for tool in TOOLS},
    )


def metrics(result: dict[str, Any], tool: str, subset: str = "all") -> dict[str, Any]:
    return result["subsets"][subset]["tools"][tool]


ZERO = {"precision": 0.0, "recall": 0.0, "selection": 0.0, "quality": 0.0, "final": 0.0, "quality_rows": 0}


# --- a worked example: precision, recall, quality, final, subsets, overall -----------------------------------------


def test_worked_example_adjust() -> None:
    truth = rows_frame(
        [
            truth_row("a", adjust={"contrast": 10, "temperature": 30}, n_calls=5),
            truth_row("b", adjust={"exposure": 20}, n_calls=3),
            truth_row("c", adjust={"tint": 5}, n_calls=1),
            truth_row("d", n_calls=1),  # adjust not used
        ]
    )
    predicted = predictions(
        {"intent": "a", "adjust": 'Parameters: {"contrast": 30, "temperature": 10}'},
        {"intent": "b", "adjust": 'Parameters: {"exposure": 50}'},
        {"intent": "c", "adjust": "Parameters: {}"},  # used in truth, not predicted: FN
        {"intent": "d", "adjust": 'Parameters: {"hue": 180}'},  # predicted, not in truth: FP
    )
    result = evaluate(truth, predicted, "v1", "test")
    # all: TP = 2 (a, b), FP = 1 (d), FN = 1 (c) -> P = 2/3, R = 2/3, F1 = 2/3
    # quality over a, b: a = (10*30 + 30*10) / (sqrt(10²+30²) * sqrt(30²+10²)) = 600/1000 = 0.6; b = 20*50/(20*50) = 1
    #   -> (0.6 + 1) / 2 = 0.8;  final = 2 * (2/3) * 0.8 / (2/3 + 0.8) = (16/15) / (22/15) = 8/11
    assert metrics(result, "adjust") == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "selection": 2 / 3, "quality": 0.8, "final": 8 / 11, "quality_rows": 2}
    )
    # r3 = {a, b}: TP = 2, FP = FN = 0 -> selection 1; quality 0.8 -> final = 2*0.8/1.8 = 8/9
    assert metrics(result, "adjust", "r3") == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "selection": 1.0, "quality": 0.8, "final": 8 / 9, "quality_rows": 2}
    )
    # r5 = {a}: selection 1; quality 0.6 -> final = 2*0.6/1.6 = 0.75
    assert metrics(result, "adjust", "r5")["final"] == pytest.approx(0.75)
    assert [result["subsets"][s]["intents"] for s in ("all", "r3", "r5")] == [4, 2, 1]
    # selective_adjust and filter: no positives, nothing predicted -> every figure 0; overall = (8/11 + 0 + 0) / 3
    assert metrics(result, "selective_adjust") == ZERO
    assert metrics(result, "filter") == ZERO
    assert result["subsets"]["all"]["overall"] == pytest.approx(8 / 33)
    assert result["subsets"]["r3"]["overall"] == pytest.approx(8 / 27)
    assert result["invalid_outputs"] == {"adjust": 0, "selective_adjust": 0, "filter": 0}
    assert result["missing_predictions"] == 0


def test_json_keys_are_exactly_the_contract() -> None:
    truth = rows_frame([truth_row("a", adjust={"contrast": 10})])
    result = evaluate(truth, predictions({"intent": "a"}), "v3", "train")
    assert list(result) == ["version", "split", "subsets", "invalid_outputs", "missing_predictions"]
    assert (result["version"], result["split"]) == ("v3", "train")
    assert list(result["subsets"]) == ["all", "r3", "r5"]
    for subset in result["subsets"].values():
        assert list(subset) == ["intents", "tools", "overall"]
        assert list(subset["tools"]) == list(TOOLS)
        for figures in subset["tools"].values():
            assert list(figures) == ["precision", "recall", "selection", "quality", "final", "quality_rows"]
    assert list(result["invalid_outputs"]) == list(TOOLS)


# --- definition edges --------------------------------------------------------------------------------------------


def test_no_positives_but_a_prediction() -> None:
    truth = rows_frame([truth_row("a"), truth_row("b")])
    predicted = predictions(
        {"intent": "a", "filter": 'Parameters: {"name": "vivid", "intensity": 50}'}, {"intent": "b"}
    )
    # TP = 0, FP = 1, FN = 0 -> P = 0/1 = 0, R = 0/0 -> 0, F1 = 0; no both-used rows -> quality 0, final 0
    assert metrics(evaluate(truth, predicted, "v1", "test"), "filter") == ZERO


def test_positives_but_no_predictions() -> None:
    truth = rows_frame([truth_row("a", filter={"name": "vivid", "intensity": 50}), truth_row("b")])
    result = evaluate(truth, predictions(), "v1", "test")
    # TP = 0, FP = 0, FN = 1 -> P = 0/0 -> 0, R = 0/1 = 0, F1 = 0; both intents missing
    assert metrics(result, "filter") == ZERO
    assert result["missing_predictions"] == 2
    assert result["subsets"]["all"]["intents"] == 2


def test_both_unused_counts_nowhere() -> None:
    truth = rows_frame(
        [truth_row("a", selective_adjust={"red": {"saturation": 20}}), truth_row("b")]  # b: selective unused
    )
    predicted = predictions(
        {"intent": "a", "selective_adjust": 'Parameters: {"red": {"saturation": 20}}'},
        {"intent": "b", "selective_adjust": "Parameters: {}"},
    )
    # b is neither TP, FP nor FN; a: TP, cosine 1 -> everything 1, one quality row
    assert metrics(evaluate(truth, predicted, "v1", "test"), "selective_adjust") == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "selection": 1.0, "quality": 1.0, "final": 1.0, "quality_rows": 1}
    )


def test_one_side_unused() -> None:
    truth = rows_frame(
        [
            truth_row("a", selective_adjust={"red": {"saturation": 20}}),
            truth_row("b", selective_adjust={"red": {"saturation": 20}}),
            truth_row("c"),
        ]
    )
    predicted = predictions(
        {"intent": "a", "selective_adjust": 'Parameters: {"red": {"saturation": 20, "luminance": 20}}'},
        {"intent": "b", "selective_adjust": None},  # null = not used: FN
        {"intent": "c", "selective_adjust": 'Parameters: {"blue": {"luminance": -10}}'},  # FP
    )
    # TP = 1, FP = 1, FN = 1 -> P = R = 1/2, F1 = 1/2
    # quality (a only): (20*20 + 0*20) / (20 * sqrt(20²+20²)) = 400 / (20 * 28.2843) = 1/sqrt(2) = 0.70711
    # final = 2 * 0.5 * 0.70711 / (0.5 + 0.70711) = 0.70711 / 1.20711 = 0.58579
    quality = 1 / math.sqrt(2)
    assert metrics(evaluate(truth, predicted, "v1", "test"), "selective_adjust") == pytest.approx(
        {
            "precision": 0.5,
            "recall": 0.5,
            "selection": 0.5,
            "quality": quality,
            "final": 2 * 0.5 * quality / (0.5 + quality),
            "quality_rows": 1,
        }
    )


def test_invalid_json_is_unused_and_counted() -> None:
    truth = rows_frame([truth_row("a", adjust={"contrast": 10}), truth_row("b", adjust={"contrast": 10})])
    predicted = predictions(
        {"intent": "a", "adjust": 'Parameters: {"contrast": 10,}'},  # trailing comma: invalid JSON
        {"intent": "b", "adjust": "Parameters: sorry, no idea"},  # no JSON object at all
    )
    result = evaluate(truth, predicted, "v1", "test")
    # both invalid -> not used: TP = 0, FN = 2 -> all 0; both counted as invalid adjust outputs
    assert metrics(result, "adjust") == ZERO
    assert result["invalid_outputs"] == {"adjust": 2, "selective_adjust": 0, "filter": 0}


def test_out_of_range_value_is_a_schema_violation() -> None:
    truth = rows_frame([truth_row("a", adjust={"contrast": 10}, filter={"name": "vivid", "intensity": 50})])
    predicted = predictions(
        {
            "intent": "a",
            "adjust": 'Parameters: {"contrast": 150}',  # contrast range is -100 … 100
            "filter": 'Parameters: {"name": "vivid", "intensity": 101}',  # intensity 0 … 100
        }
    )
    result = evaluate(truth, predicted, "v1", "test")
    assert metrics(result, "adjust") == ZERO
    assert metrics(result, "filter") == ZERO
    assert result["invalid_outputs"] == {"adjust": 1, "selective_adjust": 0, "filter": 1}


def test_missing_intent_is_unused_for_every_tool() -> None:
    truth = rows_frame(
        [
            truth_row("a", adjust={"contrast": 10}, filter={"name": "vivid", "intensity": 50}),
            truth_row("b", adjust={"contrast": 10}, filter={"name": "vivid", "intensity": 50}),
        ]
    )
    predicted = predictions(
        {
            "intent": "A",
            "adjust": 'Parameters: {"contrast": 10}',
            "filter": 'Parameters: {"name": "VIVID", "intensity": 5}',
        },
        {"intent": "not in the test split", "adjust": 'Parameters: {"contrast": 10}'},  # ignored
    )
    result = evaluate(truth, predicted, "v1", "test")
    # "A" normalizes to "a"; b is missing -> FN for both tools: TP = 1, FN = 1 -> P = 1, R = 1/2, F1 = 2/3
    # adjust quality: a's cosine = 1; filter quality: same name (case-insensitive LUT, intensity ignored) = 1
    # final = 2 * (2/3) * 1 / (2/3 + 1) = 0.8
    for tool in ("adjust", "filter"):
        assert metrics(result, tool) == pytest.approx(
            {"precision": 1.0, "recall": 0.5, "selection": 2 / 3, "quality": 1.0, "final": 0.8, "quality_rows": 1}
        )
    assert result["missing_predictions"] == 1


def test_sparse_dense_and_object_forms_give_the_same_vector(tmp_path: Path) -> None:
    dense = {p.key: 0 for p in params("adjust")} | {"contrast": 10, "temperature": 30}
    path = write_predictions(
        tmp_path / "p.jsonl",
        [
            {"intent": "sparse", "adjust": 'Parameters: {"contrast": 10, "temperature": 30}'},
            {"intent": "dense", "adjust": "JSON: " + json.dumps(dense)},
            {"intent": "object", "adjust": {"temperature": 30, "contrast": 10}},
        ],
    )
    truth = rows_frame(
        [truth_row(intent, adjust={"contrast": 30, "temperature": 10}) for intent in ("sparse", "dense", "object")]
    )
    result = evaluate(truth, read_predictions(path), "v1", "test")
    # each is the vector (contrast 10, temperature 30) against truth (30, 10): cosine 600/1000 = 0.6, three times
    assert metrics(result, "adjust")["quality"] == pytest.approx(0.6)
    assert metrics(result, "adjust")["quality_rows"] == 3
    matrix = parameter_matrix(colour_tool("adjust"), pl.Series(['{"contrast":10,"temperature":30}', json.dumps(dense)]))
    np.testing.assert_array_equal(matrix[0], matrix[1])


def test_filter_quality_is_name_accuracy() -> None:
    truth = rows_frame(
        [
            truth_row("a", filter={"name": "vivid", "intensity": 50}),
            truth_row("b", filter={"name": "north", "intensity": 80}),
        ]
    )
    predicted = predictions(
        {"intent": "a", "filter": 'Parameters: {"name": "vivid", "intensity": 10}'},
        {"intent": "b", "filter": 'Parameters: {"name": "winter", "intensity": 80}'},
    )
    # both used both sides: selection 1; quality = (1 + 0) / 2 = 0.5; final = 2*0.5/1.5 = 2/3
    assert metrics(evaluate(truth, predicted, "v1", "test"), "filter") == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "selection": 1.0, "quality": 0.5, "final": 2 / 3, "quality_rows": 2}
    )


def test_filter_with_zero_intensity_is_not_used() -> None:
    truth = rows_frame([truth_row("a", filter={"name": "vivid", "intensity": 50})])
    predicted = predictions({"intent": "a", "filter": 'Parameters: {"name": "vivid", "intensity": 0}'})
    assert metrics(evaluate(truth, predicted, "v1", "test"), "filter") == ZERO


def test_opposite_vectors_give_negative_quality_and_zero_final() -> None:
    truth = rows_frame([truth_row("a", adjust={"temperature": 30}), truth_row("b", adjust={"temperature": 30})])
    predicted = predictions(
        {"intent": "a", "adjust": 'Parameters: {"temperature": -30}'},  # cosine -900/900 = -1
        {"intent": "b", "adjust": 'Parameters: {"temperature": 60, "tint": 0}'},  # cosine 1
    )
    # selection 1; quality = (-1 + 1) / 2 = 0 -> final 0
    assert metrics(evaluate(truth, predicted, "v1", "test"), "adjust")["quality"] == pytest.approx(0.0)
    predicted = predictions({"intent": "a", "adjust": 'Parameters: {"temperature": -30}'}, {"intent": "b"})
    # TP 1, FN 1: P = 1, R = 1/2, selection 2/3; quality = -1 (a mean cosine) -> counts as 0: final 0
    assert metrics(evaluate(truth, predicted, "v1", "test"), "adjust") == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "selection": 2 / 3, "quality": -1.0, "final": 0.0, "quality_rows": 1}
    )


def test_zero_vectors_never_divide_by_zero() -> None:
    left = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    right = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(row_cosines(left, right), [0.0, 0.0, 0.0])
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_tool_metrics_from_arrays() -> None:
    # TP = 1 (row 0), FP = 1 (row 2), FN = 1 (row 1): P = R = F1 = 0.5; quality = mean(0.2) -> final 2*.5*.2/.7
    figures = tool_metrics(np.array([True, True, False]), np.array([True, False, True]), np.array([0.2]))
    assert figures == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "selection": 0.5, "quality": 0.2, "final": 0.2 / 0.7, "quality_rows": 1}
    )


# --- reading the predictions file ---------------------------------------------------------------------------------


def test_read_predictions_forms(tmp_path: Path) -> None:
    path = write_predictions(
        tmp_path / "p.jsonl",
        [
            {"intent": "A b", "adjust": "Parameters: {}", "filter": {"name": "vivid", "intensity": 5}},
            "",
            {"intent": "c"},
        ],
    )
    frame = read_predictions(path)
    assert frame.to_dicts() == [
        {
            "intent": "A b",
            "adjust": "Parameters: {}",
            "selective_adjust": None,
            "filter": json.dumps({"name": "vivid", "intensity": 5}),
        },
        {"intent": "c", "adjust": None, "selective_adjust": None, "filter": None},
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [{"intent": "golden hour"}, {"intent": "Golden  HOUR"}],
            "line 2: duplicate intent 'golden hour' (first on line 1)",
        ),
        (['{"intent": "a"', {"intent": "b"}], "line 1: not valid JSON"),
        ([{"text": "a"}], "line 1: expected an object with a string 'intent'"),
        ([{"intent": "a", "adjust": 5}], "line 1: 'adjust' must be a string, an object or null"),
    ],
)
def test_read_predictions_errors(tmp_path: Path, lines: list[Any], message: str) -> None:
    with pytest.raises(DatabuildError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_predictions(write_predictions(tmp_path / "p.jsonl", lines))


def test_read_predictions_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatabuildError, match="predictions file .*nope.jsonl not found"):
        read_predictions(tmp_path / "nope.jsonl")


def test_duplicates_after_normalization_in_a_frame() -> None:
    truth = rows_frame([truth_row("a")])
    with pytest.raises(DatabuildError, match="duplicate intents in the predictions: 'a'"):
        evaluate(truth, predictions({"intent": "a"}, {"intent": " A "}), "v1", "test")


def test_markdown_report() -> None:
    truth = rows_frame([truth_row("a", adjust={"contrast": 10}, n_calls=5)])
    text = render_markdown(evaluate(truth, predictions({"intent": "a", "adjust": '{"contrast": 10}'}), "v1", "test"))
    assert "| all | 1 | 1.00 | 1.00 | 1.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.33 |" in text
    assert "invalid outputs: adjust 0, selective_adjust 0, filter 0; missing predictions: 0" in text


# --- properties ---------------------------------------------------------------------------------------------------


def tool_object(tool: str, used: bool | None) -> st.SearchStrategy[dict[str, Any]]:
    """A tool object, sparse (zeros left out); used=True forces a used one, None lets it be either."""
    if tool == "filter":
        named = st.builds(
            lambda name, intensity: {"name": name, "intensity": intensity},
            st.sampled_from([n for n in lut_names() if n != "none"]),
            st.integers(1, 100),
        )
        return named if used else st.one_of(st.just({"name": "none", "intensity": 0}), named)
    slots = params(tool)

    def build(values: list[int]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for slot, value in zip(slots, values, strict=True):
            if value:
                if slot.sub is None:
                    obj[slot.key] = value
                else:
                    obj.setdefault(slot.key, {})[slot.sub] = value
        return obj

    values = st.tuples(*(st.one_of(st.just(0), st.integers(int(s.minimum), int(s.maximum))) for s in slots))
    objects = values.map(list).map(build)
    return objects.filter(bool) if used else objects


def truth_rows(used: bool | None) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.builds(
        lambda adjust, selective, filter_, n_calls: (adjust, selective, filter_, n_calls),
        tool_object("adjust", used),
        tool_object("selective_adjust", used),
        tool_object("filter", used),
        st.integers(5, 9) if used else st.integers(1, 9),
    )
    return st.lists(row, min_size=1, max_size=12).map(
        lambda items: [
            truth_row(f"intent {i}", adjust=a, selective_adjust=s, filter=f, n_calls=n)
            for i, (a, s, f, n) in enumerate(items)
        ]
    )


PROPERTY_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(truth_rows(used=True))
def test_perfect_prediction_scores_one_everywhere(rows: list[dict[str, Any]]) -> None:
    result = evaluate(rows_frame(rows), pl.DataFrame(perfect_predictions(rows)), "v1", "test")
    for subset in ("all", "r3", "r5"):  # every intent has n_calls >= 5 and uses every tool
        assert result["subsets"][subset]["overall"] == pytest.approx(1.0)
        for tool in TOOLS:
            figures = metrics(result, tool, subset)
            assert {k: v for k, v in figures.items() if k != "quality_rows"} == pytest.approx(
                {"precision": 1.0, "recall": 1.0, "selection": 1.0, "quality": 1.0, "final": 1.0}
            )
            assert figures["quality_rows"] == len(rows)


@PROPERTY_SETTINGS
@given(truth_rows(used=None), truth_rows(used=None), st.randoms(use_true_random=False))
def test_figures_stay_in_unit_interval_and_ignore_row_order(
    rows: list[dict[str, Any]], guesses: list[dict[str, Any]], shuffler: random.Random
) -> None:
    truth = rows_frame(rows)
    # the guesses answer the same intents (some left out, some as raw objects) with unrelated parameters
    lines = perfect_predictions(guesses)[: max(1, len(guesses) - 1)]
    predicted = pl.DataFrame(lines, schema={"intent": pl.String} | {tool: pl.String for tool in TOOLS})
    result = evaluate(truth, predicted, "v1", "test")
    for subset in result["subsets"].values():
        assert 0.0 <= subset["overall"] <= 1.0
        for figures in subset["tools"].values():
            for key in ("precision", "recall", "selection", "final"):
                assert 0.0 <= figures[key] <= 1.0 + 1e-12
            assert -1.0 - 1e-12 <= figures["quality"] <= 1.0 + 1e-12  # a mean cosine
            assert figures["final"] <= max(figures["selection"], figures["quality"], 0.0) + 1e-12
    shuffled_truth = truth.sample(fraction=1.0, shuffle=True, seed=shuffler.randint(0, 2**31))
    shuffled_predictions = predicted.sample(fraction=1.0, shuffle=True, seed=shuffler.randint(0, 2**31))
    assert evaluate(shuffled_truth, shuffled_predictions, "v1", "test") == _approx_tree(result)


def _approx_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _approx_tree(item) for key, item in value.items()}
    return pytest.approx(value) if isinstance(value, float) else value
