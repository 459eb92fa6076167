"""Gateway logs read as they are: the hand-made fixture of each format (tests/fixtures/gateway/, written by
make_gateway_fixtures.py, whose comments say what each line shows) built end to end.

Every expected value is derived by hand from the fixture's lines; the arithmetic is in the comments. The colour
pack's tools are adjust, selective_adjust and filter; an unused tool's output is the tool's neutral object.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from tests.pipelines.snapshot_helpers import ZERO_ADJUST, ZERO_SELECTIVE

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gateway"
OPENAI = FIXTURES / "openai.jsonl"
LITELLM = FIXTURES / "litellm.jsonl"
LANGFUSE = FIXTURES / "langfuse.jsonl"
NO_FILTER = '{"name":"none","intensity":0}'
runner = CliRunner()


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def snapshot(store: Path, *args: str) -> dict:
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--format", "json", "--test-fraction", "0", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows_of(store: Path, version: str = "v1") -> dict[str, dict]:
    return {r["intent"]: r for r in load_rows(open_store(store), version).iter_rows(named=True)}


def quarantine_of(store: Path, version: str = "v1") -> pl.DataFrame:
    return pl.read_parquet(open_store(store).quarantine_path(version))


@pytest.fixture(scope="module")
def openai_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    store = tmp_path_factory.mktemp("openai")
    outcomes = str(FIXTURES / "openai.outcomes.jsonl")
    return store, snapshot(store, "--logs", str(OPENAI), "--outcomes", outcomes, "--teacher-model", "gpt-4o-2024-*")


def test_openai_accounting(openai_build: tuple[Path, dict]) -> None:
    _, report = openai_build
    # rows per line: 1: 3 (adjust, filter called; selective unused), 2: 2 (adjust called, filter unused; selective
    # not offered), 3: 3 duplicate_event, 4: 3 (filter by function_call; 2 unused), 5: 3 (stream: adjust,
    # selective; filter unused), 6: 3 (Responses: filter; 2 unused), 7: 4 (adjust x2 repeated_tool, filter,
    # selective unused), 8-11: one row each (follow_up, teacher_error, other_model, bad_record), 12: 2 (crop
    # unknown_tool, adjust), 13: 1 invalid_json, 14: 1 bad_type, 15: 1 teacher_error (no choices).
    # valid: 3 + 2 + 3 + 3 + 3 + 2 + 1 = 17; input 17 + 13 = 30
    assert report["accounting"] == {
        "input_rows": 30,
        "valid_rows": 17,
        "quarantined": {
            "bad_record": 1,
            "teacher_error": 2,
            "bad_type": 1,
            "follow_up": 1,
            "other_model": 1,
            "duplicate_event": 3,
            "unknown_tool": 1,
            "repeated_tool": 2,
            "invalid_json": 1,
        },
        "outside_window": 0,
    }
    assert list(report["accounting"]["quarantined"]) == [  # the documented order
        "bad_record", "teacher_error", "bad_type", "follow_up", "other_model", "duplicate_event", "unknown_tool",
        "repeated_tool", "invalid_json",
    ]  # fmt: skip
    assert report["intents"] == {"seen": 3, "kept": 3, "excluded": {}}
    # outcome records for A1, A2, B1, B2, C1, C2 (chatcmpl-unknown matches nothing; A3 and B3 have none)
    assert report["outcomes"]["matched_requests"] == 6
    assert report["inputs"] == [{"path": str(OPENAI), "format": "openai", "file_type": "jsonl", "rows": 30}]


def test_openai_ground_truth(openai_build: tuple[Path, dict]) -> None:
    store, _ = openai_build
    rows = rows_of(store)
    assert sorted(rows) == ["faded film", "golden hour", "teal night"]
    golden = rows["golden hour"]
    # adjust: contrast 10 in A1 (exported) and A3 (no outcome) = 1/2; contrast 20 in A2 (0) = 0/1 -> contrast 10
    assert golden["adjust"] == dumps(ZERO_ADJUST | {"contrast": 10})
    # filter: vivid 40 (A1, 1/1) vs A2's unused filter, the neutral none (0/1)
    assert golden["filter"] == '{"name":"vivid","intensity":40}'
    # selective_adjust: only A1 offered it, unused: neutral (a valid call)
    assert golden["selective_adjust"] == dumps(ZERO_SELECTIVE) and golden["selective_adjust_used"] is False
    # requests: A1, A2 (its text parts "Golden" + "Hour"), A3 (adjust valid beside crop); A1's repeat adds none
    assert golden["n_calls"] == 3 and golden["intent_text"] == "Golden Hour"
    teal = rows["teal night"]
    # filter: north 70 from the legacy function_call (B1, exported) vs the stream's unused filter (B2, 0/1)
    assert teal["filter"] == '{"name":"north","intensity":70}'
    # adjust: B1 unused (1/1) vs the stream's exposure 15 assembled from pieces (0/1); selective likewise
    assert teal["adjust"] == dumps(ZERO_ADJUST) and teal["selective_adjust"] == dumps(ZERO_SELECTIVE)
    assert teal["n_calls"] == 2  # B1, B2 (B3's only row is invalid_json; B4, B5 are not requests)
    faded = rows["faded film"]
    # filter: winter 50 (C1, exported) vs winter 30 (C2, 0/1); adjust: C1 unused (C2's two calls are
    # repeated_tool); selective: unused in both
    assert faded["filter"] == '{"name":"winter","intensity":50}'
    assert faded["adjust"] == dumps(ZERO_ADJUST) and faded["n_calls"] == 2


def test_openai_quarantine_keeps_line_tool_and_record(openai_build: tuple[Path, dict]) -> None:
    store, _ = openai_build
    quarantine = quarantine_of(store)
    assert quarantine.select("source_line", "reason", "tool").rows() == [
        (3, "duplicate_event", "adjust"),  # in the line's order: its calls, then its unused tools
        (3, "duplicate_event", "filter"),
        (3, "duplicate_event", "selective_adjust"),
        (7, "repeated_tool", "adjust"),
        (7, "repeated_tool", "adjust"),
        (8, "follow_up", None),
        (9, "teacher_error", None),
        (10, "other_model", None),
        (11, "bad_record", None),
        (12, "unknown_tool", "crop"),
        (13, "invalid_json", "filter"),
        (14, "bad_type", None),
        (15, "teacher_error", None),
    ]
    lines = OPENAI.read_text(encoding="utf-8").splitlines()
    assert quarantine["record"].to_list() == [lines[n - 1] for n in quarantine["source_line"]]
    first = quarantine.row(0, named=True)
    # the assistant's text beside the calls is the chain of thought; the event id names the row in its completion
    assert first["response"] == 'Warm light. JSON: {"contrast": 10}'
    assert first["event_id"] == "chatcmpl-A1#adjust#1" and first["request_id"] == "chatcmpl-A1"
    assert quarantine.filter(pl.col("source_line") == 7)["response"].to_list() == [
        'JSON: {"hue": 10}',
        'JSON: {"hue": 20}',
    ]


def test_litellm(tmp_path: Path) -> None:
    report = snapshot(
        tmp_path, "--logs", str(LITELLM), "--outcome-field", "metadata.exported", "--teacher-model", "gpt-4o*"
    )
    # rows: 1: 3 (adjust as a decoded object, filter; selective unused), 2: other_model (gpt-3.5-turbo),
    # 3: teacher_error (status failure), 4: 3 (adjust; filter, selective unused), 5: redacted, 6: 3
    # duplicate_event (line 1 again), 7: follow_up, 8: 3 (filter; adjust, selective unused), 9: 4 (adjust x2
    # repeated_tool; filter; selective unused). valid 3 + 3 + 3 + 2 = 11; input 11 + 9 = 20
    assert report["accounting"] == {
        "input_rows": 20,
        "valid_rows": 11,
        "quarantined": {
            "teacher_error": 1,
            "follow_up": 1,
            "redacted": 1,
            "other_model": 1,
            "duplicate_event": 3,
            "repeated_tool": 2,
        },
        "outside_window": 0,
    }
    # inline outcomes: t-1 (true), t-2 (ll-4: false), t-8 (true), t-9 (false); rejected lines are no requests
    assert report["outcomes"]["matched_requests"] == 4
    rows = rows_of(tmp_path)
    golden = rows["golden hour"]
    # adjust: contrast 10 (t-1, exported) vs contrast 20 (t-2's retry, not exported); filter: vivid 40 vs unused
    assert golden["adjust"] == dumps(ZERO_ADJUST | {"contrast": 10})
    assert golden["filter"] == '{"name":"vivid","intensity":40}'
    assert golden["n_calls"] == 2  # trace ids t-1 and t-2: the request id groups a fallback and its retry
    # teal night: filter north 70 in t-8 (exported) and t-9 (not): 1/2; t-9's adjust calls are repeated_tool
    teal = rows["teal night"]
    assert teal["filter"] == '{"name":"north","intensity":70}' and teal["n_calls"] == 2
    assert teal["adjust"] == dumps(ZERO_ADJUST)  # t-8's unused adjust
    reasons = quarantine_of(tmp_path).select("source_line", "reason", "tool").rows()
    assert reasons == [
        (2, "other_model", None),
        (3, "teacher_error", None),
        (5, "redacted", None),
        (6, "duplicate_event", "adjust"),
        (6, "duplicate_event", "filter"),
        (6, "duplicate_event", "selective_adjust"),
        (7, "follow_up", None),
        (9, "repeated_tool", "adjust"),
        (9, "repeated_tool", "adjust"),
    ]


def test_litellm_folder_of_json_files(tmp_path: Path) -> None:
    """The S3/GCS loggers' layout: one pretty-printed object per .json file in a day's folder; the same
    records build the same rows and accounting as the JSON Lines file."""
    day = tmp_path / "logs" / "2024-03-01"
    day.mkdir(parents=True)
    for number, line in enumerate(LITELLM.read_text(encoding="utf-8").splitlines(), start=1):
        (day / f"{number:02d}.json").write_text(json.dumps(json.loads(line), indent=2), encoding="utf-8")
    options = ("--outcome-field", "metadata.exported", "--teacher-model", "gpt-4o*")
    folder = snapshot(tmp_path / "a", "--logs", str(day), *options)
    globbed = snapshot(tmp_path / "b", "--logs", str(day / "*.json"), *options)
    lines = snapshot(tmp_path / "c", "--logs", str(LITELLM), *options)
    assert folder["accounting"] == globbed["accounting"] == lines["accounting"]
    assert folder["inputs"] == [{"path": str(day), "format": "litellm", "file_type": "json_files", "rows": 20}]
    assert folder["fingerprint"] == globbed["fingerprint"] == lines["fingerprint"]
    quarantine = quarantine_of(tmp_path / "a")
    assert quarantine["source_file"].unique().to_list() == [str(day)]
    assert json.loads(quarantine.row(0, named=True)["record"])["id"] == "ll-2"  # file 02.json, the fallback


def test_langfuse_with_scores(tmp_path: Path) -> None:
    scores = str(FIXTURES / "langfuse.scores.jsonl")
    report = snapshot(tmp_path, "--logs", str(LANGFUSE), "--outcomes", scores, "--teacher-model", "gpt-4o*")
    # rows: 1 SPAN and 4 EVENT: not_a_generation; 2: 3 (adjust, filter; selective unused); 3: 1 (adjust only:
    # a bare messages list offers no tool); 5: teacher_error (level ERROR, no output); 6: 3; 7: 3 (no call: all
    # unused); 8: follow_up; 9: 4 (filter x2 repeated_tool; adjust, selective unused); 10: other_model
    # (gpt-3.5-turbo); 11: redacted; 12: 3 duplicate_event (line 6 again). valid 3 + 1 + 3 + 3 + 2 = 12
    assert report["accounting"] == {
        "input_rows": 23,
        "valid_rows": 12,
        "quarantined": {
            "not_a_generation": 2,
            "teacher_error": 1,
            "follow_up": 1,
            "redacted": 1,
            "other_model": 1,
            "duplicate_event": 3,
            "repeated_tool": 2,
        },
        "outside_window": 0,
    }
    assert report["outcomes"]["matched_requests"] == 4  # tr-1 .. tr-4 have an `exported` score
    rows = rows_of(tmp_path)
    golden = rows["golden hour"]
    # adjust: contrast 10 (tr-1 score 1) vs contrast 20 (tr-2 score 0; its user-feedback 1 is another score) vs
    # neutral (tr-4 score 0) -> contrast 10; filter: vivid 40 (1/1) vs none (tr-4, 0/1)
    assert golden["adjust"] == dumps(ZERO_ADJUST | {"contrast": 10})
    assert golden["filter"] == '{"name":"vivid","intensity":40}'
    assert golden["selective_adjust"] == dumps(ZERO_SELECTIVE) and golden["n_calls"] == 3
    # teal night: filter north 70 (tr-3, score 1); tr-6's two filter calls are repeated_tool, its adjust and
    # selective unused (no score): requests tr-3 and tr-6
    teal = rows["teal night"]
    assert teal["filter"] == '{"name":"north","intensity":70}' and teal["n_calls"] == 2
    lines = LANGFUSE.read_text(encoding="utf-8").splitlines()
    quarantine = quarantine_of(tmp_path)
    assert quarantine.select("source_line", "reason", "tool").rows() == [
        (1, "not_a_generation", None),
        (4, "not_a_generation", None),
        (5, "teacher_error", None),
        (8, "follow_up", None),
        (9, "repeated_tool", "filter"),
        (9, "repeated_tool", "filter"),
        (10, "other_model", None),
        (11, "redacted", None),
        (12, "duplicate_event", "filter"),
        (12, "duplicate_event", "adjust"),
        (12, "duplicate_event", "selective_adjust"),
    ]
    assert quarantine["record"].to_list() == [lines[n - 1] for n in quarantine["source_line"]]


def test_langfuse_score_name_and_threshold(tmp_path: Path) -> None:
    """--outcome-name user-feedback: only tr-2 has that score (1 >= 1): exported; tr-1 and tr-3 now have no
    outcome, so teal night (tr-3, tr-6) has no export, and golden hour keeps contrast 20 (tr-2; without
    --teacher-model, tr-7's contrast 90 is a valid call, never exported)."""
    scores = str(FIXTURES / "langfuse.scores.jsonl")
    report = snapshot(tmp_path / "a", "--logs", str(LANGFUSE), "--outcomes", scores, "--outcome-name", "user-feedback")
    assert report["intents"] == {"seen": 2, "kept": 1, "excluded": {"no_exports": 1}}
    assert report["outcomes"]["matched_requests"] == 1
    assert rows_of(tmp_path / "a")["golden hour"]["adjust"] == dumps(ZERO_ADJUST | {"contrast": 20})
    # a threshold above every value: nothing exported -> nothing kept (one Error, nothing written)
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path / "b"), "--logs", str(LANGFUSE),
                                 "--outcomes", scores, "--outcome-threshold", "2"])  # fmt: skip
    assert result.exit_code == 1 and "no_exports 2" in result.stderr
    assert not (tmp_path / "b" / "versions" / "v1").exists()


def test_formats_mixed_in_one_build(tmp_path: Path, openai_build: tuple[Path, dict]) -> None:
    """The three fixtures together: each file keeps its format and its accounting; the rows merge per intent."""
    outcomes = ("--outcomes", str(FIXTURES / "openai.outcomes.jsonl"), "--outcomes",
                str(FIXTURES / "langfuse.scores.jsonl"), "--outcome-field", "metadata.exported")  # fmt: skip
    report = snapshot(tmp_path, "--logs", str(OPENAI), "--logs", str(LITELLM), "--logs", str(LANGFUSE), *outcomes,
                      "--teacher-model", "gpt-4o-2024-*")  # fmt: skip
    assert [(i["format"], i["rows"]) for i in report["inputs"]] == [("openai", 30), ("litellm", 20), ("langfuse", 23)]
    # 'gpt-4o-2024-*' matches the teacher lines of all three (gpt-4o-2024-08-06), not their fallbacks
    assert report["accounting"]["input_rows"] == 30 + 20 + 23
    assert report["accounting"]["valid_rows"] == 17 + 11 + 12
    assert report["outcomes"]["matched_requests"] == 6 + 4 + 4
    manifest = open_store(tmp_path).manifest(report["version"])
    assert [entry["path"] for entry in manifest["outcomes"]["files"]] == [
        str(FIXTURES / "openai.outcomes.jsonl"),
        str(FIXTURES / "langfuse.scores.jsonl"),
    ]
    assert all(len(entry["sha256"]) == 64 for entry in manifest["outcomes"]["files"])
