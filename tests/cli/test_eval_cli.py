"""`databuild eval` through the CLI: output formats, exit codes and `Error:` messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.store import Store
from tests.eval_helpers import perfect_predictions, publish, truth_row, write_predictions

ROWS = [
    truth_row("golden hour", adjust={"temperature": 30, "contrast": 10}, n_calls=5),
    truth_row("cold morning", adjust={"temperature": -30}, filter={"name": "winter", "intensity": 60}, n_calls=3),
    truth_row("retro film", selective_adjust={"orange": {"saturation": 20}}, n_calls=1),
    truth_row("train only", adjust={"contrast": 5}, split="train"),
]
TEST_ROWS = [row for row in ROWS if row["split"] == "test"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    return publish(tmp_path_factory.mktemp("store"), ROWS)


def run_eval(store: tuple[Store, str], *args: str):  # noqa: ANN201  (click's Result)
    return CliRunner().invoke(app, ["eval", "--store", str(store[0].root), *args])


def test_json_output(store: tuple[Store, str], tmp_path: Path) -> None:
    lines = perfect_predictions(TEST_ROWS)
    lines[0]["adjust"] = 'Parameters: {"temperature": 30, "contrast": 10'  # unbalanced: no JSON object
    path = write_predictions(tmp_path / "p.jsonl", lines[:2])  # "retro film" missing
    result = run_eval(store, "--version", store[1], "--predictions", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == store[1] and report["split"] == "test"
    assert report["invalid_outputs"] == {"adjust": 1, "selective_adjust": 0, "filter": 0}
    assert report["missing_predictions"] == 1
    assert [report["subsets"][s]["intents"] for s in ("all", "r3", "r5")] == [3, 2, 1]
    # adjust, all: truth used by golden hour and cold morning; predicted only for cold morning (golden hour invalid)
    # TP = 1, FN = 1 -> P = 1, R = 1/2, F1 = 2/3; quality (cold morning) = 1 -> final = 2*(2/3)/(5/3) = 0.8
    assert report["subsets"]["all"]["tools"]["adjust"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "selection": 2 / 3, "quality": 1.0, "final": 0.8, "quality_rows": 1}
    )
    # selective_adjust: its only positive (retro film) is missing: FN = 1 -> 0; filter: perfect -> 1
    # overall = (0.8 + 0 + 1) / 3 = 0.6
    assert report["subsets"]["all"]["overall"] == pytest.approx(0.6)


def test_table_is_the_default(store: tuple[Store, str], tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "p.jsonl", perfect_predictions(TEST_ROWS))
    result = run_eval(store, "--predictions", str(path))
    assert result.exit_code == 0, result.output
    # all: every tool perfect; r5 = {golden hour}: adjust 1, the others have no positives -> overall 1/3
    assert "all" in result.stdout and "1.00 1.00 1.00" in result.stdout
    assert "0.33" in result.stdout
    assert "missing predictions: 0" in result.stdout


def test_markdown_on_train(store: tuple[Store, str], tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "p.jsonl", [{"intent": "Train  Only", "adjust": {"contrast": 5}}])
    result = run_eval(store, "--split", "train", "--predictions", str(path), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"**{store[1]} / train**")
    assert "| all | 1 | 1.00 | 1.00 | 1.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.33 |" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictions", "MISSING"], "Error: predictions file MISSING not found"),
        ([], "Error: --predictions is required"),
        (["--predictions", "GOOD", "--version", "v42"], "Error: no version 'v42' in store"),
        (["--predictions", "GOOD", "--split", "dev"], "Error: --split must be one of train, test, not 'dev'"),
        (
            ["--predictions", "GOOD", "--format", "csv"],
            "Error: --format must be one of table, json, markdown, not 'csv'",
        ),
        (["--predictions", "DUPLICATE"], "duplicate intent 'golden hour' (first on line 1)"),
        (["--predictions", "BROKEN"], "line 2: not valid JSON"),
    ],
)
def test_errors_exit_1(store: tuple[Store, str], tmp_path: Path, args: list[str], message: str) -> None:
    files = {
        "GOOD": write_predictions(tmp_path / "good.jsonl", perfect_predictions(TEST_ROWS)),
        "DUPLICATE": write_predictions(tmp_path / "dup.jsonl", [{"intent": "golden hour"}, {"intent": "Golden Hour "}]),
        "BROKEN": write_predictions(tmp_path / "broken.jsonl", [{"intent": "a"}, "{nope"]),
        "MISSING": tmp_path / "missing.jsonl",
    }
    args = [str(files[a]) if a in files else a for a in args]
    message = message.replace("MISSING", str(files["MISSING"]))
    result = run_eval(store, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_store_without_versions(tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "p.jsonl", [{"intent": "a"}])
    result = CliRunner().invoke(app, ["eval", "--store", str(tmp_path / "empty"), "--predictions", str(path)])
    assert result.exit_code == 1
    assert "has no dataset versions yet" in result.stderr
