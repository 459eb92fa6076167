"""The embedded kNN student, the embedding cache, and `databuild predict`."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from databuild import embeddings
from databuild.cli import app
from databuild.cli.students import load_student
from databuild.contracts import unused_completions
from databuild.embeddings import EMBEDDING_DIM, embed_intents, embedding_cache_dir
from databuild.errors import DatabuildError
from databuild.store import Store
from databuild.students import KnnStudent, Student, nearest_neighbours
from tests.eval_helpers import publish, truth_row

# Pairs of near-synonymous train intents with different ground truths: each must be answered by its partner.
PAIRS = [
    ("warm golden hour sunset glow", "golden hour warm sunset light", {"temperature": 30}, {"temperature": 45}),
    ("cold blue winter night", "icy blue winter evening", {"temperature": -40}, {"temperature": -60, "tint": 5}),
    ("old vintage film look", "retro vintage film photo", {"contrast": -10}, {"contrast": -20, "bloom": 10}),
]


def pair_rows() -> list[dict[str, Any]]:
    rows = []
    for first, second, first_adjust, second_adjust in PAIRS:
        rows.append(truth_row(first, adjust=first_adjust, split="train", n_calls=3))
        rows.append(truth_row(second, adjust=second_adjust, split="train", n_calls=1))
    rows.append(truth_row("dark moody night city", adjust={"exposure": -30}, split="test", n_calls=5))
    rows.append(
        truth_row(
            "golden hour at the beach",
            adjust={"temperature": 35},
            filter={"name": "faded_HighNoon", "intensity": 40},
            split="test",
        )
    )
    return rows


@pytest.fixture(scope="module")
def pair_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    return publish(tmp_path_factory.mktemp("store"), pair_rows())


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails, like a machine with no route out."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network unreachable (blocked by the test)")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- nearest neighbours (pure NumPy) -----------------------------------------------------------------------------


def test_nearest_neighbours_leave_one_out_and_ties() -> None:
    index = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    queries = index[[0, 2, 1]]
    chosen, similarity = nearest_neighbours(queries, index, excluded=np.array([0, 2, -1]), chunk=2)
    # query 0 = row 0, excluded -> best other: row 1 (dot 0.8); query 1 = row 2, excluded -> row 3 (dot 1.0);
    # query 2 = row 1, nothing excluded -> itself (dot 0.64 + 0.36 = 1.0)
    assert chosen.tolist() == [1, 3, 1]
    np.testing.assert_allclose(similarity, [0.8, 1.0, 1.0], rtol=1e-6)
    # ties go to the lowest row: [0, 1] has dot 1 with rows 2 and 3
    assert nearest_neighbours(np.array([[0.0, 1.0]], dtype=np.float32), index)[0].tolist() == [2]


def test_nearest_neighbours_with_nothing_left() -> None:
    index = np.array([[1.0, 0.0]], dtype=np.float32)
    chosen, similarity = nearest_neighbours(index, index, excluded=np.array([0]))
    assert chosen.tolist() == [-1] and similarity.tolist() == [-np.inf]
    assert nearest_neighbours(index, np.zeros((0, 2), dtype=np.float32))[0].tolist() == [-1]


# --- embeddings ------------------------------------------------------------------------------------------------


def test_encoder_loads_offline_and_cache_serves_second_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)
    embeddings.load_encoder.cache_clear()
    store = Store(tmp_path / "store")
    matrix, hits = embed_intents(store, ["Golden  Hour", "cold blue winter night", "golden hour"], show_progress=False)
    assert hits == 0
    assert matrix.shape == (3, EMBEDDING_DIM) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(matrix[0], matrix[2])  # same normalized intent, same row
    assert float(matrix[0] @ matrix[1]) < 0.9
    parts = sorted(embedding_cache_dir(store).glob("part-*.parquet"))
    assert len(parts) == 1
    assert sorted(pl.read_parquet(parts[0])["intent"].to_list()) == ["cold blue winter night", "golden hour"]

    def no_encoding(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a cached intent was embedded again")

    monkeypatch.setattr(embeddings, "_encode", no_encoding)
    again, hits = embed_intents(store, ["cold blue winter night", "GOLDEN HOUR"], show_progress=False)
    assert hits == 2
    np.testing.assert_array_equal(again, matrix[[1, 0]])
    assert sorted(embedding_cache_dir(store).glob("part-*.parquet")) == parts  # nothing appended


def test_cache_appends_only_new_intents(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    embed_intents(store, ["a red car"], show_progress=False)
    _, hits = embed_intents(store, ["a red car", "a blue boat"], show_progress=False)
    assert hits == 1
    parts = sorted(embedding_cache_dir(store).glob("part-*.parquet"))
    assert [pl.read_parquet(p)["intent"].to_list() for p in parts] == [["a red car"], ["a blue boat"]]
    assert embed_intents(store, [], show_progress=False)[0].shape == (0, EMBEDDING_DIM)


# --- the kNN student -------------------------------------------------------------------------------------------


def test_knn_is_leave_one_out_on_train(pair_store: tuple[Store, str], monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)
    store, version = pair_store
    student = load_student("knn", store, version, show_progress=False)
    assert isinstance(student, Student) and student.name == "knn"
    intents = [intent for pair in PAIRS for intent in pair[:2]]
    answers = student.predict(intents)
    # each train intent's own answer is excluded: it gets its partner's ground truth
    expected_adjust = [
        f"Parameters: {json.dumps(pair[3 - k], separators=(',', ':'))}" for pair in PAIRS for k in (0, 1)
    ]
    assert [answer["adjust"] for answer in answers] == expected_adjust
    assert all(answer["selective_adjust"] == "Parameters: {}" for answer in answers)
    assert all(answer["filter"] == 'Parameters: {"name":"none","intensity":0}' for answer in answers)


def test_knn_answers_test_intents_from_train(pair_store: tuple[Store, str]) -> None:
    store, version = pair_store
    student = KnnStudent(store, version, show_progress=False)
    (answer,) = student.predict(["Golden hour at the BEACH"])
    assert answer["adjust"] in ('Parameters: {"temperature":30}', 'Parameters: {"temperature":45}')
    # a train intent asked in another spelling is still itself: never its own answer
    (own,) = student.predict(["COLD blue  winter night"])
    assert own["adjust"] == 'Parameters: {"temperature":-60,"tint":5}'


def test_knn_without_any_other_train_intent(tmp_path: Path) -> None:
    store, version = publish(tmp_path / "store", [truth_row("only one", adjust={"contrast": 5}, split="train")])
    assert KnnStudent(store, version, show_progress=False).predict(["only one"]) == [unused_completions()]


def test_load_student_unknown_path(pair_store: tuple[Store, str]) -> None:
    store, version = pair_store
    with pytest.raises(DatabuildError, match="no such directory: runs/nope"):
        load_student("runs/nope", store, version)


# --- the command -----------------------------------------------------------------------------------------------


def test_predict_command_writes_predictions_and_reuses_the_cache(pair_store: tuple[Store, str], tmp_path: Path) -> None:
    store, version = pair_store
    output = tmp_path / "preds.jsonl"
    runner = CliRunner()
    args = ["predict", "--store", str(store.root), "--version", version, "--split", "test", "--output", str(output)]
    first = runner.invoke(app, [*args, "--format", "json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert list(summary) == ["rows", "seconds", "cache_hits"]
    assert summary["rows"] == 2
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["intent"] for line in lines] == ["dark moody night city", "golden hour at the beach"]
    assert all(list(line) == ["intent", "adjust", "selective_adjust", "filter"] for line in lines)
    assert all(line[tool].startswith("Parameters: {") for line in lines for tool in ("adjust", "filter"))
    again = runner.invoke(app, [*args, "--format", "json"])
    # second run: the 6 train and 2 test intents all come from the cache
    assert json.loads(again.stdout)["cache_hits"] == 8
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "rows: 2" in table.stdout

    evaluated = runner.invoke(
        app,
        ["eval", "--store", str(store.root), "--version", version, "--predictions", str(output), "--format", "json"],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["missing_predictions"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--split", "valid"], "Error: --split must be one of train, test, not 'valid'"),
        (["--format", "yaml"], "Error: --format must be one of table, json, not 'yaml'"),
        (["--version", "v7"], "Error: no version 'v7' in store"),
        (["--student", "no/such/run"], "Error: student 'no/such/run' is neither 'knn' nor a trained run directory"),
    ],
)
def test_predict_command_errors(pair_store: tuple[Store, str], tmp_path: Path, extra: list[str], message: str) -> None:
    store, _ = pair_store
    result = CliRunner().invoke(app, ["predict", "--store", str(store.root), "--output", str(tmp_path / "p"), *extra])
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (tmp_path / "p").exists()


def test_predict_command_needs_an_output(pair_store: tuple[Store, str]) -> None:
    store, _ = pair_store
    result = CliRunner().invoke(app, ["predict", "--store", str(store.root)])
    assert result.exit_code == 1
    assert "Error: --output is required" in result.stderr
