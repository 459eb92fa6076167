"""The augment loop offline: the `neighbors` generator, the kNN student over iterations, and the simulated sample
end to end (snapshot → augment → diff)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from tests.augment_helpers import TRUTH, build_store, write_predictions

NO_ENDPOINT = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
# (intent, n_calls) logged but not in the version. MiniLM cosines to the mistaken intents (measured):
#   chilly morning ~ cool morning 0.705; gloomy atmosphere ~ dark atmosphere 0.673; neon night ~ neon city 0.741
#   (and 0.958 to the test intent "neon nights"); soft pastel dreams ~ pastel dream 0.873, pastel dream colors ~
#   pastel dream 0.767 and ~ vivid colors 0.638; banana bread recipe < 0.16 to all; every other pair < 0.6.
POOL = [
    ("chilly morning", 4),
    ("gloomy atmosphere", 2),
    ("neon night", 1),
    ("soft pastel dreams", 3),
    ("pastel dream colors", 1),
    ("banana bread recipe", 9),
    ("vintage film", 7),  # already a train intent: never proposed
]


def invoke(args: list[str]) -> dict:
    result = CliRunner().invoke(app, [*args, "--format", "json"], env=NO_ENDPOINT)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_neighbors_generator_proposes_logged_phrasings(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store", pool=POOL)
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    result = CliRunner().invoke(
        app,
        ["augment", "--store", str(store.root), "--predictions", str(predictions), "--per-mistake", "2"],
        env=NO_ENDPOINT,
    )
    assert result.exit_code == 0, result.output
    assert "generator: neighbors (no OPENAI_API_KEY / OPENAI_BASE_URL set)" in result.stderr
    report = invoke(
        [
            "augment",
            "--store",
            str(store.root),
            "--version",
            "v1",
            "--predictions",
            str(predictions),
            "--per-mistake",
            "2",
        ]
    )["iterations"][0]
    # per mistaken intent, the pool intents above 0.6 (at most 2): cool morning → chilly morning; dark atmosphere →
    # gloomy atmosphere; neon city → neon night (in_test: near-duplicate of "neon nights"); pastel dream → soft
    # pastel dreams, pastel dream colors; vivid colors → pastel dream colors (duplicate) = 6 candidates, 4 accepted
    assert report["version"] == "v2" and report["candidates"] == 6 and report["accepted"] == 4
    assert report["rejected"] == {
        "empty": 0,
        "too_long": 0,
        "same_as_source": 0,
        "in_train": 0,
        "in_test": 1,
        "duplicate": 1,
    }
    assert report["calls"] == {"made": 0, "cached": 0, "failed": 0} and report["tokens"] == {
        "prompt": 0,
        "completion": 0,
    }
    added = load_rows(store, "v2").filter(pl.col("source") == "augmented").sort("intent")
    assert added.select("intent", "intent_text", "n_calls", "augmented_from").rows() == [
        ("chilly morning", "CHILLY MORNING", 4, "cool morning"),
        ("gloomy atmosphere", "GLOOMY ATMOSPHERE", 2, "dark atmosphere"),
        ("pastel dream colors", "PASTEL DREAM COLORS", 1, "pastel dream"),
        ("soft pastel dreams", "SOFT PASTEL DREAMS", 3, "pastel dream"),
    ]
    manifest = store.manifest("v2")["augmentation"]
    assert manifest["generator"] == "neighbors" and manifest["model"] is None and manifest["estimated_cost_usd"] == 0
    assert manifest["generator_details"] == {"pool": "v1.parquet", "pool_intents": 6}
    # settings only an LLM endpoint uses are not recorded for the offline generator
    parameters = store.manifest("v2")["parameters"]
    assert not {"model", "base_url", "concurrency", "max_retries", "timeout"} & set(parameters)
    assert parameters["generator"] == "auto" and parameters["min_similarity"] == 0.6
    # the two rejected candidates are kept for reviewers, with the reason and (in_test) the test intent it matched
    rejected = pl.read_parquet(store.version_dir("v2") / "rejected.parquet").sort("reason")
    assert rejected.select("intent", "source_intent", "reason", "near_test_intent").rows() == [
        ("pastel dream colors", "vivid colors", "duplicate", None),
        ("neon night", "neon city", "in_test", "neon nights"),
    ]
    assert rejected.get_column("near_test_cosine")[1] >= 0.95
    page = CliRunner().invoke(app, ["diff", "--store", str(store.root), "v1", "v2", "--format", "html"]).stdout
    assert "<h2>Rejected candidates of v2</h2>" in page
    assert "<h3>in_test (1)</h3>" in page and "<td>NEON NIGHT</td><td>neon city</td><td>neon nights</td>" in page
    assert "<h3>duplicate (1)</h3>" in page


def test_neighbors_without_a_pool_is_a_clear_error(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    result = CliRunner().invoke(
        app, ["augment", "--store", str(store.root), "--predictions", str(predictions)], env=NO_ENDPOINT
    )
    assert result.exit_code == 1
    assert "Error: the neighbors generator needs the intent pool of v1" in result.stderr
    assert "--generator openai" in result.stderr


def test_knn_iterations_reindex_freeze_the_baseline_and_never_reaugment(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store", pool=POOL)
    iterations = invoke(
        [
            "augment",
            "--store",
            str(store.root),
            "--iterations",
            "2",
            "--per-mistake",
            "2",
            "--generator",
            "neighbors",
            "--student",
            "knn",
        ]
    )["iterations"]
    first, second = iterations
    assert first["parent"] == "v1" and second["parent"] == first["version"]
    assert first["mined"] == second["mined"] == len(TRUTH)  # augmented rows are never mined
    assert second["baseline_cosine"] == first["baseline_cosine"]  # frozen on the first iteration's sample
    newest = load_rows(store, store.latest() or "")
    augmented = newest.filter(pl.col("source") == "augmented")
    assert set(augmented.get_column("augmented_from")) <= set(TRUTH)
    assert set(augmented.get_column("iteration")) <= {1, 2}
    assert augmented.filter(pl.col("iteration") == 1).height == first["accepted"]
    # the second iteration's kNN student answers from the first iteration's train split, additions included
    # (re-indexed), so the pool intents added in iteration 1 are not proposed again (they are in the version now)
    assert augmented.get_column("intent").n_unique() == augmented.height
    assert first["version"] == "v2" and first["accepted"] > 0
    block = store.manifest("v2")["augmentation"]
    assert block["baseline_from"] == "measured on v1 (iteration 1)" and block["student"] == "knn"
    # A later run continues the lineage (its iteration number follows the rows'), the baseline inherited
    later = invoke(["augment", "--store", str(store.root), "--generator", "neighbors"])["iterations"][0]
    assert later["baseline_cosine"] == first["baseline_cosine"]


@pytest.mark.slow
def test_end_to_end_on_the_simulated_sample(tmp_path: Path) -> None:
    runner = CliRunner()
    logs = tmp_path / "logs.jsonl.gz"
    store = tmp_path / "store"
    simulated = runner.invoke(app, ["simulate", "--out", str(logs), "--rows", "9000", "--intents", "450"])
    assert simulated.exit_code == 0, simulated.output
    snapshot = runner.invoke(app, ["snapshot", "--store", str(store), "--logs", str(logs), "--format", "json"])
    assert snapshot.exit_code == 0, snapshot.output
    report = invoke(
        [
            "augment",
            "--store",
            str(store),
            "--iterations",
            "1",
            "--generator",
            "neighbors",
            "--student",
            "knn",
            "--sample",
            "150",
        ]
    )["iterations"][0]
    assert report["parent"] == "v1" and report["version"] == "v2" and report["mined"] == 150
    assert report["mistakes"]["intents"] > 0 and report["accepted"] > 0
    assert report["candidates"] == report["accepted"] + sum(report["rejected"].values())
    diff = runner.invoke(app, ["diff", "v1", "v2", "--store", str(store), "--format", "json"])
    assert diff.exit_code == 0, diff.output
    shown = json.loads(diff.stdout)
    assert shown["relation"] == "descendant"
    added = shown["splits"]["train"]["added"]
    assert {entry["source"] for entry in added} == {"augmented"}
    assert shown["counts"]["v2"]["train"]["rows"] == shown["counts"]["v1"]["train"]["rows"] + report["accepted"]
    assert shown["counts"]["v2"]["test"] == shown["counts"]["v1"]["test"]
