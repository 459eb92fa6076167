"""One clear line, naming the culprit, before the work: corrupt store files, bad outputs and options, hostile
predictions, out-of-memory builds. Every case answers `Error: …` on one line with exit code 1, never the catch-all
`Type: message (run with --debug …)`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.cli.common import one_line

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("built") / "store"
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--logs", str(FIXTURE), "--test-fraction", "0.5"])
    assert result.exit_code == 0, result.output
    return store


@pytest.fixture
def store(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(built, copy)
    return copy


def error_of(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("Error: ") and "--debug" not in lines[-1], result.stderr
    return lines[-1]


MANIFESTS = [
    (b"{", "is corrupt: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    (b"[1, 2]", "is corrupt: a JSON array, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "is corrupt: nested too deeply to read"),
    (b'{"name": "\xff"}', "is corrupt: not valid JSON ('utf-8' codec can't decode byte 0xff in position 10: "
                           "invalid start byte)"),
    (b'{"parent": 5}', "is corrupt: 'parent' holds a JSON number"),
    (b'{"used_all": {"train": 5}}', "is corrupt: 'used_all' must map each split to its counts"),
    (b'{"used_all": {"train": {"rows": []}}}', "is corrupt: 'used_all' must map each split to its counts"),
    (b'{"accounting": {"quarantined": 5}}', "is corrupt: 'accounting.quarantined' must map reasons to counts"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "problem"), MANIFESTS)
def test_a_corrupt_manifest_is_named_by_versions_and_by_the_next_snapshot(
    store: Path, content: bytes, problem: str
) -> None:
    manifest = store / "versions" / "v1" / "manifest.json"
    manifest.write_bytes(content)
    assert error_of("versions", "--store", str(store)) == f"Error: {manifest} {problem}"
    assert error_of("snapshot", "--store", str(store), "--logs", str(FIXTURE)) == f"Error: {manifest} {problem}"


def test_corrupt_rows_name_their_folder(store: Path, tmp_path: Path) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"intent": "golden hour"}\n')
    arrow = store / "versions" / "v1" / "rows" / "test" / "data-00000-of-00001.arrow"
    arrow.write_bytes(arrow.read_bytes()[:100])  # cut short
    message = error_of("eval", "--store", str(store), "--predictions", str(predictions))
    assert message.startswith(f"Error: {store / 'versions' / 'v1' / 'rows'} is corrupt or incomplete (")
    message = error_of("diff", "--store", str(store), "v1", "v1")
    assert message.startswith(f"Error: {arrow.parent} is corrupt or incomplete (")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b'{"intent": "golden hour"}\n{"intent": "caf\xe9"}\n',
            "line 2: not valid UTF-8 (byte 16)",
        ),  # {"intent": "caf = 15
        (b'{"intent": "a", "adjust": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "line 1: JSON nested too deeply"),
    ],
)
def test_hostile_predictions_name_the_line(built: Path, tmp_path: Path, content: bytes, problem: str) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_bytes(content)
    message = error_of("eval", "--store", str(built), "--predictions", str(predictions))
    assert message == f"Error: {predictions}, {problem}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("garbage", "is corrupt: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
        ("[]", "is corrupt: a JSON array, not an object"),
        ('{"status": "running", "options": 5}', "is corrupt: 'options' is not an object"),
    ],
)
def test_a_garbage_run_json_is_named(tmp_path: Path, content: str, problem: str) -> None:
    run_file = tmp_path / "store" / "runs" / "r1" / "run.json"
    run_file.parent.mkdir(parents=True)
    run_file.write_text(content)
    assert error_of("runs", "--store", str(tmp_path / "store")) == f"Error: {run_file} {problem}"


@pytest.mark.parametrize("command", [["versions"], ["runs"], ["show"], ["snapshot", "--logs", str(FIXTURE)]])
def test_a_store_that_is_a_file_is_refused(tmp_path: Path, command: list[str]) -> None:
    not_a_store = tmp_path / "store"
    not_a_store.write_text("")
    assert error_of(*command, "--store", str(not_a_store)) == f"Error: --store {not_a_store} is not a directory"
    assert not_a_store.read_text() == ""


@pytest.mark.parametrize("folder", ["versions", "tmp"])
def test_a_store_folder_that_is_a_file_is_refused(tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).write_text("")
    message = error_of("snapshot", "--store", str(tmp_path), "--logs", str(FIXTURE))
    assert message == f"Error: store {tmp_path} is damaged: {tmp_path / folder} is not a directory"


def test_outputs_are_checked_before_the_work(built: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out.jsonl"
    folder.mkdir()
    message = error_of("predict", "--store", str(built), "--output", str(folder))
    assert message == f"Error: --output {folder} is a directory, not a file"
    a_file = tmp_path / "file"
    a_file.write_text("")
    message = error_of("predict", "--store", str(built), "--output", str(a_file / "preds.jsonl"))
    assert message == f"Error: --output {a_file / 'preds.jsonl'}: {a_file} is not a directory"
    message = error_of("diff", "--store", str(built), "v1", "v1", "--format", "html", "--output", str(folder))
    assert message == f"Error: --output {folder} is a directory, not a file"
    message = error_of("simulate", "--out", str(folder), "--rows", "30")
    assert message == f"Error: --out {folder} is a directory, not a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out.jsonl"]  # no stray .out.jsonl.tmp


def test_simulate_refuses_absurd_sizes(tmp_path: Path) -> None:
    message = error_of("simulate", "--out", str(tmp_path / "x.jsonl"), "--rows", str(10**30))
    assert message == "Error: --rows must be between 3 and 100,000,000 and --intents between 1 and 10,000,000"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://localhost:99999/v1", "Error: --base-url is not a valid URL (Port out of range 0-65535)"),
        ("http://localhost:abc/v1",
         "Error: --base-url is not a valid URL (Port could not be cast to integer value as 'abc')"),
        ("http://[::1/v1", "Error: --base-url is not a valid URL (Invalid IPv6 URL)"),
        ("ftp://example.com/v1", "Error: --base-url must start with http:// or https://"),
        ("http:///v1", "Error: --base-url names no host"),
    ],
)  # fmt: skip
def test_a_bad_base_url_is_refused_before_the_work(built: Path, url: str, message: str) -> None:
    args = ["augment", "--store", str(built), "--generator", "openai", "--base-url", url]
    assert error_of(*args) == message


@pytest.mark.parametrize("limit", ["-1GB", "-5", "0MB", "lots"])
def test_memory_limit_must_be_a_positive_size(tmp_path: Path, limit: str) -> None:
    message = error_of("snapshot", "--store", str(tmp_path), "--logs", str(FIXTURE), "--memory-limit", limit)
    assert message == f"Error: --memory-limit must be a positive size such as 800MB or 2GB, not '{limit}'"


def test_out_of_memory_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path), "--logs", str(FIXTURE), "--memory-limit", "1MB"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "Error: the build ran out of memory under --memory-limit 1MB (Out of Memory Error: "
    ), result.stderr
    assert not any((tmp_path / "tmp").iterdir())


def test_one_line_keeps_the_first_paragraph() -> None:
    duckdb_style = "Out of Memory Error: failed (1/2 used)\n\nPossible solutions:\n* Reducing threads\n"
    assert one_line(duckdb_style) == "Out of Memory Error: failed (1/2 used)"
    assert one_line("first\n  second\n") == "first second"
    assert json.dumps(one_line("two  spaces")) == '"two  spaces"'  # spaces inside a line are kept


def test_a_parquet_log_corrupt_inside_is_named(tmp_path: Path) -> None:
    import random

    import polars as pl

    rng = random.Random(0)
    n = 5000
    responses = ["".join(rng.choice("abcdef0123456789") for _ in range(64)) for _ in range(n)]
    columns = {name: [f"{name}-{i}" for i in range(n)] for name in ("event_id", "request_id", "intent")}
    fixed = {"ts": ["2024-03-01T10:00:00Z"] * n, "tool": ["adjust"] * n, "exported": [True] * n}
    frame = pl.DataFrame(columns | fixed | {"response": responses})
    logs = tmp_path / "logs.parquet"
    frame.write_parquet(logs, compression="zstd")
    data = bytearray(logs.read_bytes())
    middle = slice(len(data) // 4, len(data) * 3 // 4)
    data[middle] = b"\x55" * (middle.stop - middle.start)  # the footer (schema) stays readable
    logs.write_bytes(bytes(data))
    message = error_of("snapshot", "--store", str(tmp_path / "store"), "--logs", str(logs))
    assert message.startswith("Error: the build could not read or write a file: ") and str(logs) in message


def test_a_corrupt_intent_pool_is_named(store: Path) -> None:
    pool = store / "versions" / "v1" / "intent_pool.parquet"
    pool.write_bytes(b"junk")
    message = error_of("augment", "--store", str(store), "--generator", "neighbors")
    assert message.startswith(f"Error: {pool} is corrupt or incomplete (")


@pytest.mark.parametrize("config", ["{", '{"model_type": "no-such-architecture"}'])
def test_a_model_folder_with_a_bad_config_is_named(built: Path, tmp_path: Path, config: str) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(config)
    message = error_of("train", "--store", str(built), "--model", str(tmp_path / "model"))
    assert message.startswith(f"Error: {tmp_path / 'model' / 'config.json'} is corrupt or incomplete (")
