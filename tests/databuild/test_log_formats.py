"""`databuild.log_formats` and `simulate --log-format`: the same traffic as one chat completion per request.

A hand-made traffic of two requests is checked against completions written out by hand; the simulated sample is
checked record by record against its databuild-format twin (same seed), by reading the written lines back with
`json` (not with the writer's code)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.log_formats import GatewayTraffic, write_gateway_logs

TOOLS = [
    {
        "type": "function",
        "function": {"name": "set_lights", "description": "Lights.", "parameters": {"type": "object"}},
    },
    {"type": "function", "function": {"name": "play_music", "description": "Music.", "parameters": {"type": "object"}}},
]
RECORDS = pl.DataFrame(
    {
        "request_id": ["r1", "r1", "r2", "r2"],
        "ts": ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "2024-05-02T00:00:01Z", "2024-05-02T00:00:01Z"],
        "intent": ["dim the lights", "dim the lights", "party", "party"],
        "tool": ["set_lights", "play_music", "set_lights", "play_music"],
        "response": [
            'Dim means low. JSON: {"brightness": 20}',
            "No music asked. JSON: {}",
            'I think {"brightness": 100} fits',  # no marker: the whole response is the arguments
            'Loud. JSON: {"genre": "pop" JSON: {"genre": "disco"}',  # the last marker counts
        ],
        "exported": [True, True, False, False],
        "user_id": ["u1", "u1", "u2", "u2"],
    }
)
CALLED = pl.Series([True, False, True, True])
SYSTEM = {"role": "system", "content": "Call the tools that carry out the user's request."}


def call(request: str, tool: str, arguments: str) -> dict[str, Any]:
    return {"id": f"call_{request}_{tool}", "type": "function", "function": {"name": tool, "arguments": arguments}}


# written by hand from RECORDS: r1 calls set_lights only (play_music's "{}" is left uncalled), r2 calls both
R1_MESSAGE = {
    "role": "assistant",
    "content": "Dim means low.\nNo music asked.",
    "tool_calls": [call("r1", "set_lights", '{"brightness": 20}')],
}
R2_MESSAGE = {
    "role": "assistant",
    "content": 'Loud. JSON: {"genre": "pop"',
    "tool_calls": [
        call("r2", "set_lights", 'I think {"brightness": 100} fits'),
        call("r2", "play_music", '{"genre": "disco"}'),
    ],
}


def completion(request: str, created: int, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{request}",
        "object": "chat.completion",
        "created": created,
        "model": "gpt-3.5-turbo-0613",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def read_jsonl(path: Path) -> list[Any]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_openai_pairs_written_out_by_hand(tmp_path: Path) -> None:
    traffic = GatewayTraffic(records=RECORDS, tools=TOOLS, called=CALLED, duplicates=[3], broken=[0])
    written, outcomes = write_gateway_logs(traffic, "openai", tmp_path / "day.jsonl")
    assert (written, outcomes) == (4, tmp_path / "day.outcomes.jsonl")
    lines = (tmp_path / "day.jsonl").read_text(encoding="utf-8").splitlines()
    r1 = {
        "request": {
            "model": "gpt-3.5-turbo-0613",
            "messages": [SYSTEM, {"role": "user", "content": "dim the lights"}],
            "user": "u1",
            "tools": TOOLS,
            "tool_choice": "auto",
        },
        "response": completion("r1", 1714557600, R1_MESSAGE),  # 2024-05-01T10:00:00Z
    }
    assert json.loads(lines[0]) == r1
    assert json.loads(lines[1])["response"] == completion("r2", 1714608001, R2_MESSAGE)
    assert lines[2] == lines[1]  # record 3 (r2) logged twice
    assert lines[3] == lines[0][: len(lines[0].encode()) // 2]  # record 0 (r1) as a cut line
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[3])
    assert read_jsonl(outcomes) == [
        {"request_id": "chatcmpl-r1", "exported": True},
        {"request_id": "chatcmpl-r2", "exported": False},
    ]


def test_litellm_payloads_and_langfuse_generations_by_hand(tmp_path: Path) -> None:
    traffic = GatewayTraffic(records=RECORDS, tools=TOOLS, called=CALLED)
    write_gateway_logs(traffic, "litellm", tmp_path / "l.jsonl.gz")
    first = read_jsonl(tmp_path / "l.jsonl.gz")[0]
    assert {k: first[k] for k in ("id", "trace_id", "status", "startTime", "model")} == {
        "id": "litellm-r1",
        "trace_id": "r1",
        "status": "success",
        "startTime": 1714557600.0,
        "model": "gpt-3.5-turbo-0613",
    }
    assert first["messages"] == [SYSTEM, {"role": "user", "content": "dim the lights"}]
    assert first["model_parameters"] == {"tools": TOOLS, "tool_choice": "auto"}
    assert first["response"] == completion("r1", 1714557600, R1_MESSAGE)
    assert read_jsonl(tmp_path / "l.outcomes.jsonl")[0] == {"request_id": "r1", "exported": True}

    write_gateway_logs(traffic, "langfuse", tmp_path / "f.jsonl")
    second = read_jsonl(tmp_path / "f.jsonl")[1]
    assert (second["id"], second["trace_id"], second["type"]) == ("gen-r2", "r2", "GENERATION")
    assert second["start_time"] == "2024-05-02 00:00:01.000000"
    assert json.loads(second["input"]) == {"tools": TOOLS, "messages": [SYSTEM, {"role": "user", "content": "party"}]}
    assert json.loads(second["output"]) == R2_MESSAGE
    scores = read_jsonl(tmp_path / "f.scores.jsonl")
    assert [(s["trace_id"], s["name"], s["value"], s["data_type"]) for s in scores] == [
        ("r1", "exported", 1.0, "BOOLEAN"),
        ("r2", "exported", 0.0, "BOOLEAN"),
    ]


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def completions_by_request(path: Path, log_format: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each well-formed line's (request id, intent, created, tool calls, offered tools), and the cut lines."""
    found: dict[str, dict[str, Any]] = {}
    cut: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            cut.append(line)
            continue
        if log_format == "openai":
            request_id, body, answer = record["response"]["id"].removeprefix("chatcmpl-"), record["request"], None
            answer = record["response"]["choices"][0]["message"]
        elif log_format == "litellm":
            request_id, answer = record["trace_id"], record["response"]["choices"][0]["message"]
            body = {"messages": record["messages"], **record["model_parameters"]}
        else:
            request_id, body, answer = record["trace_id"], json.loads(record["input"]), json.loads(record["output"])
        calls = {c["function"]["name"]: c["function"]["arguments"] for c in answer["tool_calls"] or []}
        entry = {"intent": body["messages"][-1]["content"], "calls": calls, "offered": len(body["tools"])}
        assert found.setdefault(request_id, entry) == entry  # a repeated line is the same completion
    return found, cut


@pytest.mark.parametrize("log_format", ["openai", "litellm", "langfuse"])
def test_simulated_traffic_is_the_databuild_traffic(tmp_path: Path, log_format: str) -> None:
    args = ("--rows", 1500, "--intents", 200, "--seed", 5)
    assert invoke("simulate", "--out", tmp_path / "db.jsonl", *args).exit_code == 0
    result = invoke("simulate", "--out", tmp_path / "gw.jsonl", "--log-format", log_format, *args)
    assert result.exit_code == 0, result.output
    outcomes = tmp_path / ("gw.scores.jsonl" if log_format == "langfuse" else "gw.outcomes.jsonl")
    assert f"wrote 504 {log_format} completions to {tmp_path / 'gw.jsonl'} and their outcomes to {outcomes}" in (
        result.stderr
    )  # 500 requests; int(1500 * 0.002) = 3 bad records -> 3 // 2 + 1 = 2 duplicated, 2 broken
    records = read_jsonl(tmp_path / "db.jsonl")
    valid = [r for r in records if r["request_id"] is not None][:1500]
    found, cut = completions_by_request(tmp_path / "gw.jsonl", log_format)
    assert len(found) == 500 and len(cut) == 2
    for record in valid:
        completion_of = found[record["request_id"]]
        assert completion_of["intent"] == record["intent"] and completion_of["offered"] == 3
        head, marker, tail = record["response"].rpartition("JSON:")
        arguments = completion_of["calls"].get(record["tool"])
        if arguments is None:  # left uncalled: only a well-formed neutral answer
            assert marker and tail.strip() in ("{}", '{"name": "none", "intensity": 0}')
        else:
            assert arguments == (tail.strip() if marker else record["response"])
    exported = {r["request_id"]: r["exported"] for r in valid}
    if log_format == "langfuse":
        scores = {s["trace_id"]: s["value"] == 1.0 for s in read_jsonl(outcomes)}
    else:
        scores = {o["request_id"].removeprefix("chatcmpl-"): o["exported"] for o in read_jsonl(outcomes)}
    assert scores == exported


def test_default_format_unchanged_and_parquet_refused_for_gateway_formats(tmp_path: Path) -> None:
    assert invoke("simulate", "--out", tmp_path / "a.jsonl", "--rows", 300).exit_code == 0
    assert invoke("simulate", "--out", tmp_path / "b.jsonl", "--rows", 300, "--log-format", "databuild").exit_code == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])["event_id"] == "evt-0-0"
    result = invoke("simulate", "--out", tmp_path / "c.parquet", "--log-format", "langfuse")
    assert result.exit_code == 1
    assert result.output == "Error: --log-format langfuse writes JSON Lines: use .jsonl or .jsonl.gz, not c.parquet\n"
    assert not list(tmp_path.glob("c*"))
