"""Unit tests of the augment pieces: prompt, reply parsing, cache, filters, mistakes, neighbours, prices."""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

import httpx2
import numpy as np
import openai
import polars as pl
import pytest

from augment.cache import CachedResponse, ResponseCache, request_key
from augment.filters import REJECTION_REASONS, filter_candidates
from augment.loop import redact_url
from augment.mine import find_mistakes, sample_teacher_rows, score_sample
from augment.neighbors import top_neighbours
from augment.openai_generator import _retry_after_seconds, estimated_cost_usd, is_retryable, price_for
from augment.prompt import parse_reply, render_messages, template_sha256, template_text
from databuild.evaluation import read_predictions
from tests.augment_helpers import TRUTH, row, rows_frame, write_predictions

# --- prompt ----------------------------------------------------------------------------------------------------------


def test_prompt_is_the_papers_three_shot_template_with_the_intent_last() -> None:
    content = render_messages("golden hour {{ not jinja }}")[0]["content"]
    for source, similar in (("cool morning", "cold tone"), ("dark atmosphere", "dark night")):
        assert f"INPUT_USER_REQUEST: {source}\nOutputs:\nSIMILAR_USER_REQUEST: {similar}" in content
    assert "INPUT_USER_REQUEST: vintage film" in content and "retro cinema" in content
    assert content.endswith("INPUT_USER_REQUEST: golden hour {{ not jinja }}\nOutputs:\nSIMILAR_USER_REQUEST:")
    assert len(template_sha256()) == 64 and "{{ input_user_request }}" in template_text()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("SIMILAR_USER_REQUEST: cold tone", "cold tone"),
        ("**SIMILAR_USER_REQUEST:** *Cold Tone*", "Cold Tone"),
        ('Sure!\nSIMILAR\\_USER\\_REQUEST:\n\n  "retro cinema"  \nBecause…', "retro cinema"),
        ("similar_user_request: 'x-ray vision'", "x-ray vision"),
        ("INPUT_USER_REQUEST: a\nSIMILAR_USER_REQUEST: b\nSIMILAR_USER_REQUEST: c", "c"),  # the last marker
        ("\n\n  dark night \nmore text", "dark night"),  # no marker: the first non-empty line
        ("SIMILAR_USER_REQUEST:", ""),
        ("   ", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_parse_reply(reply: str | None, expected: str) -> None:
    assert parse_reply(reply) == expected


# --- cache -----------------------------------------------------------------------------------------------------------


def test_request_key_covers_model_messages_and_sampling_not_dict_order() -> None:
    messages = [{"role": "user", "content": "x"}]
    base = request_key("gpt-4", messages, {"seed": 0, "temperature": 1.0})
    assert base == request_key("gpt-4", [{"content": "x", "role": "user"}], {"temperature": 1.0, "seed": 0})
    assert base != request_key("gpt-4o", messages, {"seed": 0, "temperature": 1.0})
    assert base != request_key("gpt-4", [{"role": "user", "content": "y"}], {"seed": 0, "temperature": 1.0})
    assert base != request_key("gpt-4", messages, {"seed": 1, "temperature": 1.0})


def test_cache_persists_each_put_and_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "llm" / "responses.jsonl"
    cache = ResponseCache(path)
    cache.put("k1", "m", CachedResponse(("a",), 10, 2))
    assert ResponseCache(path).get("k1") == CachedResponse(("a",), 10, 2)  # on disk before put returned
    with open(path, "a", encoding="utf-8") as handle:  # a writer killed mid-line
        handle.write('{"key": "k2", "texts": ["hal')
    reloaded = ResponseCache(path)
    assert len(reloaded) == 1 and reloaded.get("k2") is None
    reloaded.put("k3", "m", CachedResponse(("c", "b"), 1, 1))
    again = ResponseCache(path)
    assert again.get("k3") == CachedResponse(("c", "b"), 1, 1) and len(again) == 2
    assert all(
        json.loads(line)["model"] == "m" for line in path.read_text().splitlines() if line.startswith('{"key":"')
    )


# --- filters ---------------------------------------------------------------------------------------------------------


def test_filter_reasons_in_order_first_match_wins() -> None:
    # Hand-made unit vectors: "near test" sits at cosine 0.96 to the test intent "neon nights" (axis 0).
    vectors = {
        "neon nights": [1.0, 0.0, 0.0],
        "neon night glow": [0.96, 0.28, 0.0],  # 0.96² + 0.28² = 1; cosine to axis 0 = 0.96 ≥ 0.95
        "far away": [0.0, 0.0, 1.0],
        "cold tone": [0.6, 0.8, 0.0],  # cosine 0.6 < 0.95
    }

    def embed(intents: list[str]) -> np.ndarray:
        return np.array([vectors[i] for i in intents], dtype=np.float32)

    candidates = pl.DataFrame(
        {
            "source_intent": ["cool morning"] * 10,
            "intent_text": [
                "  ",  # empty
                "x" * 201,  # too_long
                "Cool  MORNING",  # same_as_source after normalization
                "Golden Hour",  # in_train
                "NEON NIGHTS",  # in_test, exact
                "neon night glow",  # in_test, near-duplicate
                "Cold Tone",  # accepted
                "cold   tone",  # duplicate of the accepted one
                "far away",  # accepted
                "x" * 200,  # exactly 200 chars: allowed (but not embedded: its own vector)
            ],
            "n_calls": [0] * 10,
        }
    )
    vectors["x" * 200] = [0.0, 1.0, 0.0]
    judged, counts = filter_candidates(
        candidates,
        pl.Series(["golden hour", "cool morning"]),
        pl.Series(["neon nights"]),
        embed,
        embed(["neon nights"]),
        near_dup=0.95,
    )
    assert judged.get_column("reason").to_list() == [
        "empty",
        "too_long",
        "same_as_source",
        "in_train",
        "in_test",
        "in_test",
        None,
        "duplicate",
        None,
        None,
    ]
    assert counts == {"empty": 1, "too_long": 1, "same_as_source": 1, "in_train": 1, "in_test": 2, "duplicate": 1}
    assert list(counts) == list(REJECTION_REASONS)
    assert judged.filter(pl.col("reason").is_null()).get_column("intent").to_list() == [
        "cold tone",
        "far away",
        "x" * 200,
    ]
    # in_test names the test intent it matched: exactly (cosine 1) or as a near duplicate (the dot product 0.96)
    near = judged.filter(pl.col("reason") == "in_test").select("near_test_intent", "near_test_cosine").rows()
    assert near[0] == ("neon nights", 1.0)
    assert near[1][0] == "neon nights" and near[1][1] == pytest.approx(0.96, abs=1e-6)
    assert judged.filter(pl.col("reason") != "in_test").get_column("near_test_intent").null_count() == 5


def test_a_rejected_candidate_does_not_make_a_later_one_a_duplicate() -> None:
    candidates = pl.DataFrame(
        {"source_intent": ["a", "b"], "intent_text": ["a", "a"], "n_calls": [0, 0]},
    )
    judged, counts = filter_candidates(
        candidates, pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String), None, None
    )
    # first: same as its source "a"; second (source "b"): the first acceptance of "a"
    assert judged.get_column("reason").to_list() == ["same_as_source", None]
    assert counts["duplicate"] == 0


# --- mining ----------------------------------------------------------------------------------------------------------


def test_mistakes_hand_computed(tmp_path: Path) -> None:
    sample = rows_frame([row(intent, tools, "train") for intent, tools in TRUTH.items()]).sort("intent")
    scored = score_sample(sample, read_predictions(write_predictions(tmp_path / "p.jsonl")))
    # adjust: every intent uses it on both sides; cosines are 1 except dark atmosphere:
    #   truth (-30, 20) vs prediction (30, 20): (-900 + 400) / (30² + 20²) = -500 / 1300 = -5/13.
    #   baseline = mean over the 7 both-used rows = (6 - 5/13) / 7 = 73/91.
    # selective: only golden hour uses it in truth, predicted exactly -> quality rows {1.0} -> baseline 1.0;
    #   vivid colors predicts it where the truth does not: row score 0 < 1 -> a mistake.
    from augment.mine import sample_metrics

    metrics = sample_metrics(scored)
    assert metrics["adjust"]["quality"] == pytest.approx(73 / 91)
    assert metrics["selective_adjust"]["quality"] == pytest.approx(1.0)
    baseline = {"adjust": metrics["adjust"]["quality"], "selective_adjust": metrics["selective_adjust"]["quality"]}
    mistakes = find_mistakes(scored, baseline)
    by_intent = {r["intent"]: r for r in mistakes.per_intent.to_dicts()}
    assert [i for i, r in by_intent.items() if r["adjust"]] == ["dark atmosphere"]
    assert [i for i, r in by_intent.items() if r["selective_adjust"]] == ["vivid colors"]
    # filter: winter ≠ north; none ≠ cyberpunk; an unknown preset is invalid, i.e. none ≠ spring
    assert sorted(i for i, r in by_intent.items() if r["filter"]) == ["cool morning", "neon city", "pastel dream"]
    assert mistakes.counts() == {"adjust": 1, "selective_adjust": 1, "filter": 3, "intents": 5}
    assert mistakes.mistaken_intents() == [
        "cool morning",
        "dark atmosphere",
        "neon city",
        "pastel dream",
        "vivid colors",
    ]


def test_identical_vectors_are_never_mistakes_through_rounding(tmp_path: Path) -> None:
    # All-perfect predictions: every adjust cosine is 1 up to float rounding, and the baseline is their mean;
    # a row equal to the baseline within 1e-9 is not a mistake.
    sample = rows_frame([row(intent, tools, "train") for intent, tools in TRUTH.items()])
    lines = [
        {"intent": intent} | {t: f"Parameters: {r[t]}" for t in ("adjust", "selective_adjust", "filter")}
        for intent, r in ((i, row(i, t, "train")) for i, t in TRUTH.items())
    ]
    path = tmp_path / "perfect.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    scored = score_sample(sample, read_predictions(path))
    mean = float(scored.filter(pl.col("tool") == "adjust").get_column("row_score").mean())
    mistakes = find_mistakes(scored, {"adjust": mean + 5e-10, "selective_adjust": 1.0 + 5e-10})
    assert mistakes.counts() == {"adjust": 0, "selective_adjust": 0, "filter": 0, "intents": 0}


def test_sample_takes_teacher_rows_only_seeded_and_all_when_larger() -> None:
    teacher = [row(f"intent {n:02d}", {}, "train") for n in range(30)]
    augmented = [
        row(f"new {n}", {}, "train") | {"source": "augmented", "augmented_from": "intent 00", "iteration": 1}
        for n in range(5)
    ]
    train = rows_frame(teacher + augmented)
    first = sample_teacher_rows(train, 10, seed=3)
    assert first.height == 10 and set(first.get_column("source")) == {"teacher"}
    assert first.equals(sample_teacher_rows(train.reverse(), 10, seed=3))  # the order rows arrive in is irrelevant
    assert not first.equals(sample_teacher_rows(train, 10, seed=4))
    assert sample_teacher_rows(train, 1000, seed=0).height == 30


# --- neighbours ------------------------------------------------------------------------------------------------------


def test_top_neighbours_keeps_the_best_above_the_threshold() -> None:
    pool = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    rows, similarities = top_neighbours(queries, pool, k=3, min_similarity=0.6)
    # query 0: dots 1.0, 0.8, 0.6, 0.0 -> keeps rows 0, 1 (0.6 is not above 0.6); query 1: 1.0 (row 3), 0.8 (row 2)
    assert rows.tolist() == [[0, 1, -1], [3, 2, -1]]
    assert similarities[0, :2] == pytest.approx([1.0, 0.8])
    rows, _ = top_neighbours(queries, pool[:0], k=2, min_similarity=0.0)
    assert rows.tolist() == [[-1, -1], [-1, -1]]


# --- endpoint plumbing -----------------------------------------------------------------------------------------------


def test_prices_and_cost() -> None:
    # gpt-4: $30 / $60 per million -> 1000 prompt + 500 completion tokens = 0.030 + 0.030
    assert estimated_cost_usd("gpt-4", 1000, 500) == pytest.approx(0.06)
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o") != price_for("gpt-4")
    assert price_for("gpt-4o-mini") == (0.15, 0.60)
    assert estimated_cost_usd("llama3:8b", 1000, 500) is None


def _status_error(status: int, headers: dict[str, str]) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers, request=request)
    error_class = {429: openai.RateLimitError, 500: openai.InternalServerError, 400: openai.BadRequestError}
    return error_class.get(status, openai.APIStatusError)("x", response=response, body=None)


def test_retry_after_forms_and_what_is_retried() -> None:
    assert _retry_after_seconds(_status_error(429, {"Retry-After": "3"})) == 3.0
    assert _retry_after_seconds(_status_error(429, {"retry-after-ms": "250"})) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (_retry_after_seconds(_status_error(503, {"Retry-After": later})) or 0) <= 30
    assert _retry_after_seconds(_status_error(500, {})) is None
    assert is_retryable(_status_error(429, {})) and is_retryable(_status_error(500, {}))
    assert is_retryable(_status_error(408, {})) and not is_retryable(_status_error(400, {}))
    assert is_retryable(openai.APITimeoutError(httpx2.Request("POST", "http://127.0.0.1/")))
    assert not is_retryable(ValueError("not json"))


def test_redact_url() -> None:
    assert redact_url("http://user:secret@host:8000/v1") == "http://host:8000/v1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url(None) is None
