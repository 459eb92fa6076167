"""The long-tail world (`databuild simulate --world longtail`): its pre-registered properties, determinism, the truth
file, the train-share selection by the snapshot's split formula, and the paraphrasing endpoint over real HTTP.

The bounds are the ones fixed before the first RQ2 run (docs/world.md): >= 300 looks; looks' request counts fall
like 1/rank (Zipf, exponent 1); 8,000-11,000 intents with an export (the paper: 9,252); r3 share 0.30-0.50 and r5
share 0.18-0.35 of them; Used/All within a few points of the paper's (adjust .92, selective .32, filter .66).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.normalize import normalize_intent
from databuild.packs.colour.longtail import LongtailOptions, simulate_world, truth_records
from databuild.store import open_store

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
UNUSED = ({}, {"name": "none", "intensity": 0})


@pytest.fixture(scope="module")
def world_stats() -> dict:
    world = simulate_world(LongtailOptions())
    truth = {record["intent"]: record for record in truth_records(world)}
    calls = (
        world.records.filter(pl.col("request_id").is_not_null())
        .with_columns(pl.col("intent").map_elements(normalize_intent, return_dtype=pl.String))
        .group_by("intent")
        .agg(pl.col("request_id").n_unique().alias("requests"), pl.col("exported").any().alias("exported"))
    )
    return {"world": world, "truth": truth, "calls": calls}


def test_at_least_300_looks_each_with_its_own_truth(world_stats: dict) -> None:
    truth = world_stats["truth"]
    looks = {record["look"] for record in truth.values()}
    assert len(looks) >= 300
    by_look: dict[str, set[str]] = {}
    for record in truth.values():
        by_look.setdefault(record["look"], set()).add(json.dumps(record["outputs"], sort_keys=True))
    assert all(len(outputs) == 1 for outputs in by_look.values())  # one truth per look, whatever the phrasing
    assert len({next(iter(outputs)) for outputs in by_look.values()}) >= 300  # and the looks' truths differ
    assert max(Counter(record["look"] for record in truth.values()).values()) >= 50  # many phrasings a look


def test_look_popularity_is_zipf_with_exponent_one(world_stats: dict) -> None:
    truth, calls = world_stats["truth"], world_stats["calls"]
    per_look = Counter()
    for intent, requests in calls.select("intent", "requests").iter_rows():
        per_look[truth[intent]["look"]] += requests
    counts = np.array(sorted(per_look.values(), reverse=True)[:100], dtype=float)
    slope = np.polyfit(np.log(np.arange(1, len(counts) + 1)), np.log(counts), 1)[0]
    assert -1.25 <= slope <= -0.75


def test_kept_intents_and_r3_r5_shares_near_the_papers(world_stats: dict) -> None:
    kept = world_stats["calls"].filter("exported")
    assert 8_000 <= kept.height <= 11_000
    requests = kept.get_column("requests")
    assert 0.30 <= (requests >= 3).mean() <= 0.50
    assert 0.18 <= (requests >= 5).mean() <= 0.35
    assert (requests == 1).mean() >= 0.3  # a long tail seen once


def test_used_shares_near_the_papers(world_stats: dict) -> None:
    truth = world_stats["truth"]
    kept = world_stats["calls"].filter("exported").get_column("intent").to_list()
    for tool, low, high in (("adjust", 0.86, 0.97), ("selective_adjust", 0.24, 0.42), ("filter", 0.58, 0.74)):
        used = np.mean([truth[intent]["outputs"][tool] not in UNUSED for intent in kept])
        assert low <= used <= high, tool


def _parsed(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def test_the_teacher_is_right_often_but_not_always(world_stats: dict) -> None:
    truth, records = world_stats["truth"], world_stats["world"].records
    adjust = records.filter((pl.col("tool") == "adjust") & pl.col("response").str.contains("JSON: ", literal=True))
    pairs = adjust.select("intent", pl.col("response").str.split("JSON: ").list.last()).head(20_000).iter_rows()
    right = [_parsed(text) == truth[normalize_intent(intent)]["outputs"]["adjust"] for intent, text in pairs]
    # right with 1 - (0.1 + 0.5 * difficulty), difficulty ~ Beta(2, 3): 0.7 on average, less on popular hard looks;
    # a few per cent of the texts are broken on purpose
    assert 0.5 <= np.mean(right) <= 0.85


def _simulate(tmp_path: Path, name: str, *extra: str) -> tuple[bytes, bytes]:
    out, truth = tmp_path / f"{name}.jsonl", tmp_path / f"{name}-truth.jsonl"
    result = runner.invoke(
        app, ["simulate", "--world", "longtail", "--out", str(out), "--truth", str(truth), "--rows", "30000", *extra]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes(), truth.read_bytes()


def test_deterministic_per_seed(tmp_path: Path) -> None:
    first = _simulate(tmp_path, "a", "--train-share", "0.125")
    assert _simulate(tmp_path, "b", "--train-share", "0.125") == first
    assert _simulate(tmp_path, "c", "--train-share", "0.125", "--seed", "1")[0] != first[0]


def test_truth_file_names_every_logged_intent_once(tmp_path: Path) -> None:
    logs, truth = _simulate(tmp_path, "t")
    lines = [json.loads(line) for line in truth.decode().splitlines()]
    logged = {normalize_intent(json.loads(line)["intent"]) for line in logs.decode().splitlines()}
    assert [line["intent"] for line in lines] == sorted(logged)
    assert set(lines[0]) == {"intent", "look", "outputs"}
    assert set(lines[0]["outputs"]) == {"adjust", "selective_adjust", "filter"}


def _split_hash(intent: str) -> int:
    return int(hashlib.sha256(f"0\x1f{intent}".encode()).hexdigest()[:16], 16)


def test_train_share_keeps_the_split_formulas_share_and_every_test_intent(tmp_path: Path) -> None:
    test_threshold = math.ceil(0.1 * 2**64)  # 0.1 is not exact in binary; the margin below dwarfs the difference
    train_threshold = test_threshold + math.ceil(0.125 * (2**64 - test_threshold))
    full = {line["intent"] for line in map(json.loads, _simulate(tmp_path, "full")[1].decode().splitlines())}
    logs, truth = _simulate(tmp_path, "share", "--train-share", "0.125")
    share = {line["intent"] for line in map(json.loads, truth.decode().splitlines())}
    test = {intent for intent in full if _split_hash(intent) < test_threshold}
    train = full - test
    kept_train = share - test
    assert test <= share
    assert kept_train == {intent for intent in train if _split_hash(intent) < train_threshold}
    assert 0.10 <= len(kept_train) / len(train) <= 0.15
    full_logs = {
        line
        for line in (tmp_path / "full.jsonl").read_text().splitlines()
        if normalize_intent(json.loads(line)["intent"]) in test
    }
    share_logs = {line for line in logs.decode().splitlines() if normalize_intent(json.loads(line)["intent"]) in test}
    assert len(full_logs - share_logs) <= 0.01 * len(full_logs)  # the same traffic (bad records drawn apart)


def test_snapshot_splits_the_train_share_world_as_selected(tmp_path: Path) -> None:
    logs = tmp_path / "share.jsonl"
    _simulate(tmp_path, "share", "--train-share", "0.125", "--rows", "6000")
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path / "store"), "--logs", str(logs)])
    assert result.exit_code == 0, result.output
    rows = load_rows(open_store(tmp_path / "store"), "v1")
    threshold = math.ceil(0.1 * 2**64)
    for intent, split in rows.select("intent", "split").iter_rows():
        assert (split == "test") == (_split_hash(intent) < threshold)


def test_paper_only_options_are_refused_for_the_paper_world(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x.jsonl"), "--truth", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 1
    assert "Error: --truth, --train-share and --teacher-noise need --world longtail" in result.output
    result = runner.invoke(
        app, ["simulate", "--world", "longtail", "--out", str(tmp_path / "x.jsonl"), "--train-share", "0"]
    )
    assert result.exit_code == 1
    assert "Error: --train-share must be in (0, 1], not 0.0" in result.output
    result = runner.invoke(app, ["simulate", "--world", "moon", "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert "Error: --world must be one of paper, longtail, not 'moon'" in result.output


def _paraphraser_module():
    spec = importlib.util.spec_from_file_location("bench_paraphraser", REPO / "bench" / "paraphraser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paraphraser_answers_deterministically_over_http(tmp_path: Path) -> None:
    from augment.cache import ResponseCache
    from augment.openai_generator import Endpoint, OpenAIGenerator
    from databuild.store import open_store

    paraphraser = _paraphraser_module()
    sources = ["golden sunset", "i want a chilly snowfall", "nothing of the vocabulary"]
    with paraphraser.paraphrasing_server() as server:
        endpoint = Endpoint(model="gpt-4", base_url=server.base_url, api_key="sk-test", timeout=10, max_retries=0)

        def propose(store: str, seed: int) -> list[str]:
            cache = ResponseCache.for_store(open_store(tmp_path / store))  # a fresh cache: every answer is sent
            generation = OpenAIGenerator(endpoint, cache, seed=seed).propose(sources, 2)
            return [candidate.text for candidate in generation.candidates]

        first, again, other = propose("a", 0), propose("b", 0), propose("c", 5)
        assert server.count() == 18  # 3 sources x 2 candidates x 3 runs, all over HTTP
    assert first == again
    assert first != other
    assert first[4:] == ["nothing of the vocabulary"] * 2  # an unplaceable source is echoed back
    looks = paraphraser.Paraphraser()
    for source, answer in zip([s for s in sources[:2] for _ in range(2)], first[:4], strict=True):
        assert answer != source
        assert looks.look_of(answer) == looks.look_of(source) is not None
