"""A second tool pack end to end: `examples/smart_home` (lights, thermostat, music) through every command, and its
hand-derived ground truth and metrics (expectations read off `examples/smart_home/make_log.py` by hand)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import Store, open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "smart_home"
PACK = EXAMPLE / "tools.json"
LOG = EXAMPLE / "teacher_logs.jsonl"
TOOLS = ("set_lights", "set_thermostat", "play_music")


def invoke(*args: Any) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def ok(*args: Any) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    root = tmp_path_factory.mktemp("smart-home") / "store"
    report = json.loads(
        ok("snapshot", "--logs", LOG, "--tools", PACK, "--store", root, "--test-fraction", "0.3", "--format", "json")
    )
    yield open_store(root), report["version"]


def test_snapshot_reports_every_row_and_records_the_pack(built: tuple[Store, str]) -> None:
    store, version = built
    manifest = store.manifest(version)
    accounting = manifest["accounting"]
    # make_log.py: one defect of each kind, two no_json (the prose answer and the unbalanced `{`), five schema
    # violations (brightness 150, scene disco, unknown key loudness, required genre missing, brightness 10.5)
    assert accounting["quarantined"] == {
        "bad_record": 1,
        "missing_field": 1,
        "bad_type": 1,
        "duplicate_event": 1,
        "unknown_tool": 1,
        "empty_intent": 1,
        "intent_too_long": 1,
        "no_json": 2,
        "invalid_json": 1,
        "schema_violation": 5,
    }
    assert accounting["input_rows"] == sum(1 for _ in LOG.open(encoding="utf-8"))
    assert accounting["input_rows"] == accounting["valid_rows"] + sum(accounting["quarantined"].values())
    # "lights only please" has no valid thermostat (and no music) call: incomplete
    assert manifest["intents"]["excluded"]["incomplete_tools"] == 1
    raw = PACK.read_bytes()
    import hashlib

    assert manifest["pack"] == {"name": "smart_home", "sha256": hashlib.sha256(raw).hexdigest(), "tools": list(TOOLS)}
    assert (store.version_dir(version) / "pack.json").read_bytes() == raw
    rows = load_rows(store, version)
    assert rows.columns[:8] == ["intent", "intent_text", *TOOLS, *(f"{t}_used" for t in TOOLS)]


def test_hand_derived_ground_truth(built: tuple[Store, str]) -> None:
    store, version = built
    rows = {row["intent"]: row for row in load_rows(store, version).to_dicts()}
    cosy = rows["cosy evening"]
    # lights: {30, 2200 K, "Relax"} exported 2/2 beats {brightness 60} 1/2; the enum in its canonical spelling
    assert cosy["set_lights"] == '{"brightness":30,"colour_temperature":2200,"scene":"relax"}'
    # thermostat 21.2 -> the nearest multiple of 0.5 is 21.0, written as an integer
    assert cosy["set_thermostat"] == '{"target":21,"mode":"heat"}'
    assert cosy["play_music"] == '{"genre":"jazz","volume":25}'
    assert cosy["n_calls"] == 4 and cosy["intent_text"] == "cosy evening"
    movie = rows["movie night"]
    # a tie (1/1 each, one export, one call): the smaller canonical JSON wins ("19" < "20.5")
    assert movie["set_thermostat"] == '{"target":19,"mode":"heat"}'
    # colour temperature left out: its default 2700; music {"genre": "none"} is neutral (not used)
    assert movie["set_lights"] == '{"brightness":10,"colour_temperature":2700,"scene":"movie"}'
    assert (movie["play_music"], movie["play_music_used"]) == ('{"genre":"none","volume":0}', False)
    assert movie["n_calls"] == 2  # the defect rows of "movie night" are quarantined, not counted
    party = rows["party time"]
    assert party["set_lights"] == '{"brightness":100,"colour_temperature":5000,"scene":"party"}'
    assert party["set_thermostat"] == '{"target":19.5,"mode":"cool"}'  # 19.74 -> 39.48 halves -> 39 -> 19.5
    leave = rows["leaving for work"]
    # brightness 0 and mode off are the packs' x-neutral-if: each tool writes its neutral object and is unused
    assert leave["set_lights"] == '{"brightness":0,"colour_temperature":2700,"scene":"none"}'
    assert leave["set_thermostat"] == '{"target":20,"mode":"off"}'
    assert not any(leave[f"{tool}_used"] for tool in TOOLS)
    assert "disco inferno" not in rows  # never exported


def test_sft_completions_follow_the_quality_kind(built: tuple[Store, str]) -> None:
    import datasets

    store, version = built
    sft = datasets.load_from_disk(str(store.version_dir(version) / "sft"))
    frame = pl.concat([pl.from_arrow(sft[split].data.table) for split in ("train", "test")])  # type: ignore[misc]
    by_key = {(r["intent"], r["tool"]): r for r in frame.to_dicts()}
    # cosine tool: default values left out (2700 K is the default); exact tools: written whole
    assert by_key[("movie night", "set_lights")]["completion"] == 'Parameters: {"brightness":10,"scene":"movie"}'
    assert by_key[("leaving for work", "set_lights")]["completion"] == "Parameters: {}"
    assert by_key[("movie night", "play_music")]["completion"] == 'Parameters: {"genre":"none","volume":0}'
    assert "User request: movie night\n" in by_key[("movie night", "set_thermostat")]["prompt"]


def test_hand_derived_metrics(built: tuple[Store, str], tmp_path: Path) -> None:
    store, version = built
    test = load_rows(store, version).filter(pl.col("split") == "test").to_dicts()
    intents = {row["intent"] for row in test}
    assert {"cosy evening", "movie night"} <= intents
    lines = []
    for row in test:  # perfect answers, except two
        line = {"intent": row["intent"]} | {tool: f"Parameters: {row[tool]}" for tool in TOOLS}
        if row["intent"] == "cosy evening":
            line["set_lights"] = 'Parameters: {"brightness": 60}'  # (60, 2700) against the truth's (30, 2200)
        if row["intent"] == "movie night":
            line["set_thermostat"] = 'Parameters: {"target": 19, "mode": "cool"}'  # wrong mode
            line["play_music"] = 'Parameters: {"genre": "jazz", "volume": 10}'  # used where the truth is not
        lines.append(json.dumps(line))
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = json.loads(ok("eval", "--store", store.root, "--version", version, "--predictions", predictions,
                           "--format", "json"))  # fmt: skip
    tools = result["subsets"]["all"]["tools"]
    n = len(test)
    lights_used = sum(row["set_lights_used"] for row in test)
    music_used = sum(row["play_music_used"] for row in test)
    # thermostat: every tool use right (selection 1); the mode matches on n - 1 rows
    assert tools["set_thermostat"]["selection"] == pytest.approx(1.0)
    assert tools["set_thermostat"]["quality"] == pytest.approx((n - 1) / n)
    # music: one false positive: precision m / (m + 1), recall 1; quality 1 on the m both-used rows
    precision = music_used / (music_used + 1)
    assert tools["play_music"]["selection"] == pytest.approx(2 * precision / (precision + 1))
    assert tools["play_music"]["quality"] == pytest.approx(1.0)
    # lights: the cosine of (30, 2200) and (60, 2700) on one of the used rows, 1 on the others
    cosine = (30 * 60 + 2200 * 2700) / (math.hypot(30, 2200) * math.hypot(60, 2700))
    assert tools["set_lights"]["quality"] == pytest.approx((lights_used - 1 + cosine) / lights_used)
    finals = [tools[t]["final"] for t in TOOLS]
    assert result["subsets"]["all"]["overall"] == pytest.approx(sum(finals) / 3)
    assert list(result["invalid_outputs"]) == list(TOOLS)


def test_the_whole_flow_through_the_cli(built: tuple[Store, str], tmp_path: Path) -> None:
    import torch

    from train.tiny import build_tiny_t5, train_tokenizer, version_texts

    store, v1 = built
    s = ["--store", store.root]
    knn = tmp_path / "knn.jsonl"
    ok("predict", *s, "--version", v1, "--student", "knn", "--output", knn)
    assert set(json.loads(knn.read_text().splitlines()[0])) == {"intent", *TOOLS}
    knn_eval = json.loads(ok("eval", *s, "--version", v1, "--predictions", knn, "--format", "json"))
    assert set(knn_eval["subsets"]["all"]["tools"]) == set(TOOLS)
    assert 0.0 <= knn_eval["subsets"]["all"]["overall"] <= 1.0

    augmented = json.loads(
        ok("augment", *s, "--version", v1, "--generator", "neighbors", "--min-similarity", "0.3", "--format", "json")
    )["iterations"][0]
    assert set(augmented["mistakes"]) == {*TOOLS, "intents"}
    assert set(augmented["baseline_cosine"]) == {"set_lights"}  # the pack's one cosine tool
    v2 = augmented["version"]
    if v2 != v1:
        assert store.manifest(v2)["pack"]["name"] == "smart_home"
        assert (store.version_dir(v2) / "pack.json").read_bytes() == PACK.read_bytes()

    for output_format in ("table", "json", "markdown", "html"):
        out = ok("diff", *s, v1, v2, "--format", output_format)
        assert "Visual preview" not in out  # only the colour pack has a previewer
    ok("show", *s, v2)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tokenizer = train_tokenizer(version_texts(store, v1))
        model = build_tiny_t5(tmp_path / "tiny-t5", tokenizer)
        run = tmp_path / "run"
        summary = json.loads(
            ok("train", *s, "--version", v1, "--model", model, "--epochs", "1", "--batch-size", "8", "--lr", "3e-3",
               "--eval-limit", "2", "--output", run, "--format", "json")
        )  # fmt: skip
        assert summary["selected_epoch"] == 1
        assert (run / "pack.json").read_bytes() == PACK.read_bytes()
        assert json.loads((run / "run.json").read_text())["pack"]["name"] == "smart_home"
        from train.student import TrainedStudent

        assert TrainedStudent(run).pack.name == "smart_home"  # the run's pack keeps its name
        predictions = tmp_path / "run.jsonl"
        ok("predict", *s, "--version", v1, "--student", run, "--output", predictions)
        if v2 != v1:  # a trained student predicts its own version by default, not the newest
            default = invoke("predict", *s, "--student", run, "-o", tmp_path / "default.jsonl")
            assert default.exit_code == 0 and f"predicting {v1}/test" in default.stderr
            other = invoke("predict", *s, "--student", run, "--version", v2, "-o", tmp_path / "other.jsonl")
            assert f"note: {run} was trained on {v1}; predicting {v2} as asked" in " ".join(other.stderr.split())
    finally:
        torch.set_num_threads(threads)
    result = json.loads(ok("eval", *s, "--version", v1, "--predictions", predictions, "--format", "json"))
    assert list(result["invalid_outputs"]) == list(TOOLS)


def test_diff_of_versions_with_different_packs_says_so(built: tuple[Store, str], tmp_path: Path) -> None:
    colour_log = Path(__file__).parent / "fixtures" / "teacher_logs.jsonl"
    store = tmp_path / "store"
    ok("snapshot", "--logs", colour_log, "--store", store, "--test-fraction", "0.5")
    ok("snapshot", "--logs", LOG, "--tools", PACK, "--store", store, "--test-fraction", "0.3")
    payload = json.loads(ok("diff", "--store", store, "v1", "v2", "--format", "json"))
    assert payload["packs"] == {"a": "colour", "b": "smart_home", "shared_tools": []}
    assert all(not part["changed"] for part in payload["splits"].values())  # nothing shared to compare
    assert set(payload["counts"]["v1"]["train"]) == {"rows", "adjust_used", "selective_adjust_used", "filter_used"}
    assert set(payload["counts"]["v2"]["train"]) == {"rows", *(f"{t}_used" for t in TOOLS)}
    table = ok("diff", "--store", store, "v1", "v2")
    assert "Warning: v1 and v2 were built with different tool packs (colour / smart_home): only the shared" in table
    # the same pack on both sides: no `packs` key (the colour contract is unchanged)
    assert "packs" not in json.loads(ok("diff", "--store", store, "v1", "v1", "--format", "json"))
