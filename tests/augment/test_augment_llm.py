"""The openai generator and `databuild augment` against a real OpenAI-compatible HTTP server on loopback.

No mocked client: the official async `openai` client talks HTTP to `tests.llm_server`, which injects rate limits
with Retry-After, 5xx, slow replies past the client timeout, malformed and empty bodies, and replies equal to a
test intent, a train intent or the source.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from augment.cache import CACHE_FILE, CACHE_SUBDIR, MAX_TEXT_BYTES, ResponseCache, capped_text
from augment.loop import AugmentLoop, AugmentOptions, SilentProgress
from augment.openai_generator import Endpoint, OpenAIGenerator
from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from tests.augment_helpers import (
    MISTAKEN,
    TRUTH,
    build_store,
    every_file_bytes,
    run_generation,
    write_predictions,
)
from tests.llm_server import BadUsage, Hang, Malformed, NoChoices, Reply, ScriptedLLMServer, Slow, Status, similar

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-test-SECRET-4242-do-not-store"


def endpoint(server: ScriptedLLMServer, **overrides: Any) -> Endpoint:
    settings: dict[str, Any] = {
        "model": "test-model",
        "base_url": server.base_url,
        "api_key": SECRET,
        "timeout": 0.5,
        "concurrency": 4,
        "max_retries": 3,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
    }
    return Endpoint(**(settings | overrides))


def attempts_of(server: ScriptedLLMServer, source: str) -> list[Any]:
    return [r for r in server.requests if r.source == source]


# --- the generator ---------------------------------------------------------------------------------------------------


def test_retries_honour_retry_after_and_count_failures(tmp_path: Path) -> None:
    script = {
        "rate limited": [Status(429, retry_after="1"), Reply("SIMILAR_USER_REQUEST: rate ok")],
        "flaky": [Status(500), Status(503), Reply("SIMILAR_USER_REQUEST: flaky ok")],
        "slow": [Slow(1.5, "too late"), Reply("SIMILAR_USER_REQUEST: slow ok")],
        "broken": [Malformed()],
        "down": [Status(500)],
        "bad request": [Status(400)],
    }
    cache = ResponseCache.for_store(open_store(tmp_path))
    with ScriptedLLMServer(script=script) as server:
        generation = OpenAIGenerator(endpoint(server, max_retries=2), cache).propose(list(script), 1)
        log = list(server.requests)
    texts = {c.source_intent: c.text for c in generation.candidates}
    assert texts == {"rate limited": "rate ok", "flaky": "flaky ok", "slow": "slow ok"}
    gap = attempts_of(server, "rate limited")[1].received_at - attempts_of(server, "rate limited")[0].received_at
    assert gap >= 1.0  # Retry-After: 1 was honoured (the backoff alone would wait ≤ 0.2 s)
    assert len(attempts_of(server, "flaky")) == 3 and len(attempts_of(server, "slow")) == 2
    assert len(attempts_of(server, "down")) == 3  # 1 + --max-retries 2, then counted as failed
    assert len(attempts_of(server, "broken")) == 1 and len(attempts_of(server, "bad request")) == 1  # not retried
    accounting = generation.accounting
    assert (accounting.made, accounting.cached, accounting.failed) == (6, 0, 3)
    assert accounting.attempts == len(log) == 2 + 3 + 2 + 1 + 3 + 1
    assert accounting.failures == {"JSONDecodeError": 1, "InternalServerError": 1, "BadRequestError": 1}
    # usage from the 3 answered requests: 10 prompt + 2 completion tokens each
    assert (accounting.prompt_tokens, accounting.completion_tokens) == (30, 6)
    assert all(r.authorization == f"Bearer {SECRET}" for r in log)
    assert len(ResponseCache.for_store(open_store(tmp_path))) == 3  # failures are not cached


def test_concurrency_is_bounded_and_a_rerun_is_served_from_the_cache(tmp_path: Path) -> None:
    sources = [f"look {n}" for n in range(24)]
    cache = ResponseCache.for_store(open_store(tmp_path))
    with ScriptedLLMServer(delay=0.15) as server:
        started = time.perf_counter()
        first = OpenAIGenerator(endpoint(server, concurrency=4, timeout=5), cache).propose(sources, 1)
        elapsed = time.perf_counter() - started
        assert server.max_in_flight == 4
        assert elapsed >= 24 / 4 * 0.15  # 6 waves of 0.15 s at least
        again = OpenAIGenerator(endpoint(server), ResponseCache.for_store(open_store(tmp_path))).propose(sources, 1)
        assert server.count() == 24  # the second run sent nothing
    assert (again.accounting.made, again.accounting.cached) == (0, 24)
    assert again.candidates == first.candidates


def test_per_mistake_k_sends_k_requests_with_distinct_keys(tmp_path: Path) -> None:
    script = {
        "golden hour#0": [Reply("warm dusk")],
        "golden hour#1": [Reply("amber light")],
        "golden hour#2": [Reply("")],
    }
    with ScriptedLLMServer(script=script) as server:
        generator = OpenAIGenerator(endpoint(server), ResponseCache.for_store(open_store(tmp_path)), seed=0)
        generation = generator.propose(["golden hour"], 3)
        assert sorted(r.seed for r in server.requests) == [0, 1, 2]
        # a later iteration shifts the seeds: new requests, not the cached answers
        generator.propose(["golden hour"], 3, ordinal_offset=3)
        assert sorted(r.seed for r in server.requests) == [0, 1, 2, 3, 4, 5]
    assert sorted(c.text for c in generation.candidates) == ["", "amber light", "warm dusk"]


def test_a_killed_run_resumes_without_sending_an_answered_request_again(tmp_path: Path) -> None:
    total, answered_before_kill, concurrency = 40, 12, 4
    counter = itertools.count()
    counter_lock = threading.Lock()

    def first_run(source: str) -> Any:
        with counter_lock:
            number = next(counter)
        return similar(source) if number < answered_before_kill else Hang()

    cache_file = tmp_path / "cache" / CACHE_SUBDIR / CACHE_FILE
    with ScriptedLLMServer(default=first_run) as server:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.augment_helpers", str(tmp_path), server.base_url, str(total)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        # Wait until the 12 answers are on disk and the next 4 requests hang in flight, then kill -9.
        while time.monotonic() < deadline:
            lines = cache_file.read_text().count("\n") if cache_file.exists() else 0
            if lines == answered_before_kill and server.count() == answered_before_kill + concurrency:
                break
            assert child.poll() is None, child.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("the generation never reached the kill point")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        server.release()
        first_log = list(server.requests)
        answered_first = {r.source for r in first_log if r.answered}
        assert len(answered_first) == answered_before_kill

        server.default = similar
        server.reset_log()
        resumed = run_generation(tmp_path, server.base_url, [f"intent {n}" for n in range(total)])
        second_log = list(server.requests)
    sent_again = {r.source for r in second_log} & answered_first
    assert sent_again == set()  # no answered request was sent twice
    assert len(second_log) == total - answered_before_kill  # exactly the unanswered ones (4 were in flight)
    answered_overall = [r.source for r in first_log + second_log if r.answered]
    assert len(answered_overall) == len(set(answered_overall)) == total
    assert (resumed.accounting.cached, resumed.accounting.made) == (answered_before_kill, total - answered_before_kill)
    assert len(resumed.candidates) == total


def test_unusable_replies_fail_are_never_cached_and_the_run_goes_on(tmp_path: Path) -> None:
    script = {
        "no choices": [NoChoices()],
        "null content": [Reply(None)],
        "integer content": [Reply(42)],
        "list content": [Reply(["SIMILAR_USER_REQUEST: a list"])],
        "overflowing usage": [BadUsage('{"prompt_tokens": 1e400, "completion_tokens": 2, "total_tokens": 12}')],
        "negative usage": [BadUsage('{"prompt_tokens": -10, "completion_tokens": 2, "total_tokens": 12}')],
        "fractional usage": [BadUsage('{"prompt_tokens": 10.5, "completion_tokens": 2, "total_tokens": 12}')],
        "healthy": [Reply("SIMILAR_USER_REQUEST: fine")],
    }
    with ScriptedLLMServer(script=script) as server:
        cache = ResponseCache.for_store(open_store(tmp_path))
        first = OpenAIGenerator(endpoint(server, max_retries=0, concurrency=1), cache).propose(list(script), 1)
        assert server.count() == 8
    assert [(c.source_intent, c.text) for c in first.candidates] == [("healthy", "fine")]
    accounting = first.accounting
    assert (accounting.made, accounting.cached, accounting.failed) == (8, 0, 7)
    assert accounting.failures == {"UnusableResponse": 7}
    assert accounting.first_failure == "UnusableResponse (no choices)"  # one at a time: in order
    assert (accounting.prompt_tokens, accounting.completion_tokens) == (10, 2)  # the healthy reply only
    assert len(ResponseCache.for_store(open_store(tmp_path))) == 1
    # a later run against a healthy server asks the 7 again and gets answers
    with ScriptedLLMServer() as healthy:
        again = OpenAIGenerator(endpoint(healthy), ResponseCache.for_store(open_store(tmp_path))).propose(
            list(script), 1
        )
        assert sorted(r.source for r in healthy.requests) == sorted(set(script) - {"healthy"})
    assert (again.accounting.made, again.accounting.cached, again.accounting.failed) == (7, 1, 0)
    assert len(again.candidates) == 8


def test_unusable_cache_lines_are_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = ["good", "integer", "null", "no choices", "huge usage", "torn", "a list", "bad utf-8", "no usage"]
    with ScriptedLLMServer() as server:
        generator = OpenAIGenerator(endpoint(server), ResponseCache.for_store(open_store(tmp_path)))
        requests = generator.requests_for(sources, 1)  # one per source, in order
        keys = {source: request.key for source, request in zip(sources, requests, strict=True)}
        usage = '"usage":{"prompt_tokens":10,"completion_tokens":2}'
        lines = [
            f'{{"key":"{keys["good"]}","texts":["SIMILAR_USER_REQUEST: from cache"],{usage}}}',
            f'{{"key":"{keys["integer"]}","texts":[42],{usage}}}',
            f'{{"key":"{keys["null"]}","texts":[null],{usage}}}',
            f'{{"key":"{keys["no choices"]}","texts":[],{usage}}}',
            f'{{"key":"{keys["huge usage"]}","texts":["x"],"usage":{{"prompt_tokens":1e400,"completion_tokens":2}}}}',
            f'["{keys["a list"]}"]',
            f'{{"key":"{keys["no usage"]}","texts":["x"]}}',
            f'{{"key":"{keys["torn"]}","texts":["SIMILAR_US',
        ]
        path = tmp_path / "cache" / CACHE_SUBDIR / CACHE_FILE
        path.parent.mkdir(parents=True)
        path.write_bytes(
            "\n".join(lines[:-1]).encode()
            + f'\n{{"key":"{keys["bad utf-8"]}","texts":["\xff\xfe"]}}\n'.encode("latin-1")
            + lines[-1].encode()
        )
        capsys.readouterr()
        cache = ResponseCache.for_store(open_store(tmp_path))
        assert capsys.readouterr().err == (
            f"warning: skipped 8 unusable lines of the LLM response cache {path} (torn or not a usable reply); "
            "those requests are asked again\n"
        )
        assert len(cache) == 1
        generation = OpenAIGenerator(endpoint(server), cache).propose(sources, 1)
        assert sorted(r.source for r in server.requests) == sorted(set(sources) - {"good"})
    assert (generation.accounting.made, generation.accounting.cached, generation.accounting.failed) == (8, 1, 0)
    assert ("good", "from cache") in [(c.source_intent, c.text) for c in generation.candidates]
    assert len(ResponseCache.for_store(open_store(tmp_path))) == 9  # the torn line no longer swallows the next


def test_retry_after_that_is_neither_seconds_nor_a_date_falls_back_to_the_backoff(tmp_path: Path) -> None:
    script = {
        source: [Status(429, retry_after=value), Reply(f"SIMILAR_USER_REQUEST: {source} ok")]
        for source, value in (
            ("words", "soon"),
            ("not a number", "nan"),
            ("negative", "-3"),
            ("overflow", "1e400"),
            ("past date", "Wed, 21 Oct 2015 07:28:00 GMT"),
        )
    }
    with ScriptedLLMServer(script=script) as server:
        cache = ResponseCache.for_store(open_store(tmp_path))
        generation = OpenAIGenerator(endpoint(server, max_retries=2), cache).propose(list(script), 1)
        log = list(server.requests)
    assert generation.accounting.failed == 0 and generation.accounting.attempts == len(log) == 10
    assert sorted(c.text for c in generation.candidates) == sorted(f"{source} ok" for source in script)
    for source in script:  # the backoff (0.05 s, jitter ≤ 1 s), never a wait of what the header seemed to say
        first, second = attempts_of(server, source)
        assert second.received_at - first.received_at < 1.5


def test_replies_are_cached_capped_to_4_kib(tmp_path: Path) -> None:
    assert MAX_TEXT_BYTES == 4096
    assert capped_text("é" * 3000) == "é" * 2048  # 4,096 bytes exactly
    assert capped_text("a" + "é" * 3000) == "a" + "é" * 2047  # never half a character
    huge = "SIMILAR_USER_REQUEST: big request\n" + "because " * 700_000  # 5.6 MB
    with ScriptedLLMServer(script={"big": [Reply(huge)]}) as server:
        cache = ResponseCache.for_store(open_store(tmp_path))
        fresh = OpenAIGenerator(endpoint(server, timeout=10), cache).propose(["big"], 1)
    cached = OpenAIGenerator(endpoint(server), ResponseCache.for_store(open_store(tmp_path))).propose(["big"], 1)
    assert [c.text for c in fresh.candidates] == [c.text for c in cached.candidates] == ["big request"]
    assert cached.accounting.cached == 1
    cache_file = tmp_path / "cache" / CACHE_SUBDIR / CACHE_FILE
    assert MAX_TEXT_BYTES < cache_file.stat().st_size < MAX_TEXT_BYTES + 300


# --- the command -----------------------------------------------------------------------------------------------------

LOOP_SCRIPT = {
    # sources in sample order: cool morning, dark atmosphere, neon city, pastel dream, vivid colors (2 each)
    "cool morning#0": [Reply("SIMILAR_USER_REQUEST: **Cold Tone**")],  # accepted
    "cool morning#1": [Status(429, retry_after="1"), Reply('SIMILAR_USER_REQUEST: "chilly dawn"')],  # accepted
    "dark atmosphere#0": [Status(500), Status(500), Reply("Winter Morning\nbecause…")],  # in_test (exact)
    "dark atmosphere#1": [Slow(2.0, "late"), Reply("SIMILAR_USER_REQUEST: golden hour")],  # in_train
    "neon city#0": [Reply("SIMILAR_USER_REQUEST: " + "neon " * 50)],  # too_long (249 chars)
    "neon city#1": [Reply("SIMILAR_USER_REQUEST: Neon Night")],  # in_test (MiniLM cosine 0.958 to neon nights)
    "pastel dream#0": [Reply("SIMILAR_USER_REQUEST: cold tone")],  # duplicate of cool morning's
    "pastel dream#1": [Malformed()],  # failed
    "vivid colors#0": [Reply("SIMILAR_USER_REQUEST: Vivid Colors")],  # same_as_source
    "vivid colors#1": [Reply("")],  # empty
}


def augment_args(store: Path, predictions: Path, server: ScriptedLLMServer, *extra: str) -> list[str]:
    return [
        "augment",
        "--store",
        str(store),
        "--version",
        "v1",
        "--predictions",
        str(predictions),
        "--generator",
        "openai",
        "--model",
        "gpt-4",
        "--base-url",
        server.base_url,
        "--per-mistake",
        "2",
        "--concurrency",
        "4",
        "--max-retries",
        "3",
        "--timeout",
        "0.5",
        "--format",
        "json",
        *extra,
    ]


def test_augment_command_end_to_end_with_the_llm_server(tmp_path: Path) -> None:
    store, parent = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    runner = CliRunner()
    env = {"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": None}
    with ScriptedLLMServer(script=LOOP_SCRIPT) as server:
        result = runner.invoke(app, augment_args(store.root, predictions, server), env=env)
        assert result.exit_code == 0, result.output
        first_log = list(server.requests)
        rerun = runner.invoke(app, augment_args(store.root, predictions, server), env=env)
        rerun_log = list(server.requests)[len(first_log) :]
    report = json.loads(result.stdout)
    assert report == {
        "iterations": [
            {
                "version": "v2",
                "parent": "v1",
                "mined": 7,
                "mistakes": {"adjust": 1, "selective_adjust": 1, "filter": 3, "intents": 5},
                # adjust: (6·1 + (-5/13)) / 7 = 73/91; selective: golden hour's one both-used row, cosine 1
                "baseline_cosine": {"adjust": pytest.approx(73 / 91), "selective_adjust": pytest.approx(1.0)},
                "candidates": 9,  # 10 requests, 1 failed
                "accepted": 2,
                "rejected": {
                    "empty": 1,
                    "too_long": 1,
                    "same_as_source": 1,
                    "in_train": 1,
                    "in_test": 2,
                    "duplicate": 1,
                },
                "calls": {"made": 10, "cached": 0, "failed": 1},
                "tokens": {"prompt": 90, "completion": 18},  # 9 answers × (10, 2)
            }
        ]
    }
    # 10 requests + 1 retry after the 429 + 2 after the 500s + 1 after the timeout
    assert len(first_log) == 14 and {r.source for r in first_log} == set(MISTAKEN)

    rows = load_rows(store, "v2")
    added = rows.filter(pl.col("source") == "augmented").sort("intent")
    assert added.get_column("intent").to_list() == ["chilly dawn", "cold tone"]
    assert added.get_column("intent_text").to_list() == ["chilly dawn", "Cold Tone"]
    assert set(added.get_column("augmented_from")) == {"cool morning"}
    assert set(added.get_column("split")) == {"train"} and set(added.get_column("iteration")) == {1}
    source_row = rows.filter(pl.col("intent") == "cool morning").row(0, named=True)
    for added_row in added.iter_rows(named=True):
        for column in ("adjust", "selective_adjust", "filter", "adjust_used", "selective_adjust_used", "filter_used"):
            assert added_row[column] == source_row[column]
    parent_rows = load_rows(store, parent)
    assert (
        rows.filter(pl.col("source") == "teacher").sort("intent", "split").equals(parent_rows.sort("intent", "split"))
    )

    # lineage, manifest, the test split byte for byte
    assert store.lineage("v2") == ["v2", "v1"]
    manifest = store.manifest("v2")
    block = manifest["augmentation"]
    assert manifest["parent"] == "v1" and manifest["command"].startswith("databuild augment --store")
    assert manifest["parameters"]["per_mistake"] == 2 and manifest["parameters"]["base_url"] == server.base_url
    assert block["generator"] == "openai" and block["model"] == "gpt-4" and len(block["prompt_template_sha256"]) == 64
    assert block["baseline_cosine"]["adjust"] == pytest.approx(73 / 91)
    assert block["http_attempts"] == 14 and block["failures_by_type"] == {"JSONDecodeError": 1}
    assert block["estimated_cost_usd"] == pytest.approx((90 * 30 + 18 * 60) / 1e6)  # gpt-4 list price
    parent_test = sorted((store.version_dir("v1") / "rows" / "test").glob("*.arrow"))
    new_test = sorted((store.version_dir("v2") / "rows" / "test").glob("*.arrow"))
    assert parent_test and [p.read_bytes() for p in parent_test] == [p.read_bytes() for p in new_test]

    # the same command again: every answered request comes from the cache, only the failed one is asked again
    assert rerun.exit_code == 0, rerun.output
    again = json.loads(rerun.stdout)["iterations"][0]
    assert again["version"] == "v2" and again["calls"] == {"made": 1, "cached": 9, "failed": 1}
    assert [r.source for r in rerun_log] == ["pastel dream"]
    assert "unchanged" not in rerun.stdout  # json is data only; the table says it (below)
    assert store.version_names() == ["v1", "v2"]

    # the key never reaches the store: not in a manifest, a card, the cache or a dataset file
    for path, content in every_file_bytes(store.root):
        assert SECRET.encode() not in content, path


def wait_until(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_concurrent_runs_on_one_store_never_send_a_request_twice(tmp_path: Path) -> None:
    """Another run (a subprocess) holds the sender lock with its answers held back; this run's loop waits, says so,
    then finds every answer in the cache."""
    store, _ = build_store(tmp_path / "store")
    sending, go_on = threading.Event(), threading.Event()
    notes: list[str] = []

    def held_until_released(source: str) -> Reply:
        sending.set()
        go_on.wait(60)
        return Reply(f"SIMILAR_USER_REQUEST: {source} at dusk")

    class Notes(SilentProgress):
        def note(self, message: str) -> None:
            notes.append(message)
            if message.startswith("waiting for"):
                go_on.set()  # the other run may answer now

    with ScriptedLLMServer(default=held_until_released) as server:
        other = subprocess.Popen(
            [sys.executable, "-m", "tests.augment_helpers", "--exclusive", str(store.root), server.base_url, "2"]
            + MISTAKEN,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until(sending.is_set, "the other run to send")
        options = AugmentOptions(
            version="v1",
            predictions=write_predictions(tmp_path / "predictions.jsonl"),
            generator="openai",
            model="test-model",
            base_url=server.base_url,
            per_mistake=2,
            timeout=60,
        )
        results = AugmentLoop(store, options, "databuild augment", Notes(), show_progress=False).run()
        other_output = other.communicate(timeout=60)
        log = list(server.requests)
    assert other.returncode == 0 and other_output[0].decode().split() == ["10"], other_output
    waiting = f"waiting for the LLM response cache lock held by pid {other.pid} (another augment run on this store)"
    assert waiting in notes
    assert len(log) == 10 and len({(r.source, r.seed) for r in log}) == 10  # 5 mistakes × 2, each sent once
    assert results[0].calls == {"made": 0, "cached": 10, "failed": 0} and results[0].accepted == 5


def test_table_output_says_unchanged_when_the_version_exists(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    env = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    with ScriptedLLMServer(default=lambda source: Reply(f"SIMILAR_USER_REQUEST: {source} at dusk")) as server:
        args = [a for a in augment_args(store.root, predictions, server) if a not in ("--format", "json")]
        args[args.index("--generator") + 1] = "auto"  # a base URL is configured: auto picks openai
        first = CliRunner().invoke(app, args, env=env)
        second = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "generator: openai (an endpoint is configured)" in first.stderr
    assert "new version" in first.stdout and "v2" in first.stdout
    assert "unchanged: identical to v2" in second.stdout
    assert "estimated cost (USD)" in first.stdout
    added = load_rows(store, "v2").filter(pl.col("source") == "augmented")
    # 5 mistaken intents × 2 requests, both answered "<source> at dusk": the second of each pair is a duplicate
    assert sorted(added.get_column("intent")) == [f"{source} at dusk" for source in MISTAKEN]
    assert "rejected: duplicate" in first.stdout and " 5 " in first.stdout.split("rejected: duplicate")[1]


def test_every_request_failing_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    with ScriptedLLMServer(default=lambda source: Status(500)) as server:
        args = augment_args(store.root, predictions, server)
        args[args.index("--max-retries") + 1] = "0"
        result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(  # after the progress chatter
        "Error: all 10 requests to the endpoint failed (first: InternalServerError (HTTP 500))"
    )
    assert store.version_names() == ["v1"]


def test_openai_without_an_endpoint_fails_at_once(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    result = CliRunner().invoke(
        app,
        ["augment", "--store", str(store.root), "--generator", "openai"],
        env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None},
    )
    assert result.exit_code == 1
    message = result.stderr
    assert message.startswith("Error: ") and "OPENAI_API_KEY" in message and "OPENAI_BASE_URL" in message
    assert "--generator neighbors" in message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--generator", "gpt"], "Error: --generator must be one of auto, openai, neighbors, not 'gpt'"),
        (["--format", "yaml"], "Error: --format must be one of table, json, not 'yaml'"),
        (["--iterations", "0"], "Error: --iterations must be at least 1, not 0"),
        (["--per-mistake", "0"], "Error: --per-mistake must be at least 1, not 0"),
        (["--predictions", "missing.jsonl"], "Error: predictions file missing.jsonl not found"),
        (["--version", "v9"], "Error: no version 'v9' in store"),
        (["--timeout", "nan"], "Error: --timeout must be a positive finite number of seconds, not nan\n"),
        (["--timeout", "inf"], "Error: --timeout must be a positive finite number of seconds, not inf\n"),
        (["--timeout", "-1"], "Error: --timeout must be a positive finite number of seconds, not -1.0\n"),
        (["--timeout", "0"], "Error: --timeout must be a positive finite number of seconds, not 0.0\n"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    store, _ = build_store(tmp_path / "store")
    result = CliRunner().invoke(
        app,
        ["augment", "--store", str(store.root), "--generator", "neighbors", *extra],
        env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None},
    )
    assert result.exit_code == 1 and result.stderr.startswith(message), result.output


def test_predictions_allow_only_one_iteration(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    args = ["augment", "--store", str(store.root), "--predictions", str(predictions), "--iterations", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr == "Error: --predictions judges one fixed student: it allows only --iterations 1\n"


def test_predictions_missing_a_sampled_intent_is_an_error(tmp_path: Path) -> None:
    store, _ = build_store(tmp_path / "store")
    path = tmp_path / "partial.jsonl"
    path.write_text(json.dumps({"intent": "golden hour"}) + "\n")
    args = ["augment", "--store", str(store.root), "--predictions", str(path), "--generator", "neighbors"]
    result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None})
    assert result.exit_code == 1
    assert f"no line for {len(TRUTH) - 1} of the {len(TRUTH)} sampled train intents" in result.stderr


def test_a_base_url_is_recorded_without_credentials_query_or_fragment(tmp_path: Path) -> None:
    predictions = write_predictions(tmp_path / "predictions.jsonl")
    secrets = ("user-SECRET-1", "pass-SECRET-2", "query-SECRET-3", "fragment-SECRET-4")
    with ScriptedLLMServer(default=lambda source: Reply(f"SIMILAR_USER_REQUEST: {source} at dusk")) as server:
        host_port = server.base_url.removeprefix("http://").removesuffix("/v1")
        clean = f"http://{host_port}/v1"
        secret_url = f"http://{secrets[0]}:{secrets[1]}@{host_port}/v1?api-key={secrets[2]}#{secrets[3]}"
        # --base-url, then $OPENAI_BASE_URL
        for index, (given, environment) in enumerate(((secret_url, None), (None, secret_url))):
            store, _ = build_store(tmp_path / f"store-{index}")
            args = augment_args(store.root, predictions, server)
            at = args.index("--base-url")
            args[at : at + 2] = ["--base-url", given] if given else []
            result = CliRunner().invoke(app, args, env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": environment})
            assert result.exit_code == 0, result.output
            manifest = store.manifest("v2")
            assert manifest["augmentation"]["base_url"] == clean
            assert manifest["parameters"]["base_url"] == (clean if given else None)
            assert (f"--base-url {clean} " in manifest["command"]) == bool(given)
            for path, content in every_file_bytes(store.root):
                assert not any(secret.encode() in content for secret in secrets), path
            assert not any(secret in result.output for secret in secrets)
