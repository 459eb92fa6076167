"""Gateway logs' inputs: the Batch API, other pair keys, inline outcomes, gzip, the per-file cache keyed by the
outcomes, and bad input (one `Error:` line naming the file, exit 1, nothing written; or a `warning:`)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from tests.pipelines.snapshot_helpers import ZERO_ADJUST

FIXTURES = Path(__file__).parents[1] / "fixtures"
OPENAI = FIXTURES / "gateway" / "openai.jsonl"
DATABUILD = FIXTURES / "teacher_logs.jsonl"
TOOLS = [{"type": "function", "function": {"name": n}} for n in ("adjust", "selective_adjust", "filter")]
runner = CliRunner()


def snapshot(store: Path, *args: str) -> dict:
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--format", "json", "--test-fraction", "0", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error(store: Path, *args: str) -> str:
    result = runner.invoke(app, ["snapshot", "--store", str(store), *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (store / "versions").exists() or not any((store / "versions").iterdir())
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    return result.stderr.removeprefix("Error: ").rstrip("\n")


def completion(rid: str, created: int, adjust: dict, **message: object) -> dict:
    call = {"id": "c1", "type": "function", "function": {"name": "adjust", "arguments": json.dumps(adjust)}}
    return {"id": rid, "object": "chat.completion", "created": created, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call],
                                                 **message}}]}  # fmt: skip


def request(text: str, **extra: object) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "tools": TOOLS, **extra}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_batch_api_joined_by_custom_id(tmp_path: Path) -> None:
    inputs = write_jsonl(tmp_path / "in.jsonl", [
        {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions", "body": request("Golden Hour")},
        {"custom_id": "q2", "method": "POST", "url": "/v1/chat/completions", "body": request("Golden Hour")},
        {"custom_id": "q3", "method": "POST", "url": "/v1/chat/completions", "body": request("Golden Hour")},
    ])  # fmt: skip
    outputs = write_jsonl(tmp_path / "out.jsonl", [  # in another order than the input
        {"id": "batch_req_2", "custom_id": "q2", "error": None,
         "response": {"status_code": 200, "body": completion("chatcmpl-2", 1709287200, {"contrast": 20})}},
        {"id": "batch_req_1", "custom_id": "q1", "error": None,
         "response": {"status_code": 200, "body": completion("chatcmpl-1", 1709287200, {"contrast": 10})}},
        {"id": "batch_req_3", "custom_id": "q3", "error": {"code": "server_error", "message": "boom"},
         "response": {"status_code": 500, "body": {"error": {"message": "boom"}}}},
    ])  # fmt: skip
    outcomes = write_jsonl(tmp_path / "o.jsonl", [{"request_id": "chatcmpl-1", "exported": True}])
    report = snapshot(tmp_path / "s", "--logs", str(outputs), "--batch-input", str(inputs), "--outcomes", str(outcomes))
    # q1, q2: adjust called, selective and filter unused: 3 rows each; q3 failed: teacher_error
    assert report["accounting"]["valid_rows"] == 6
    assert report["accounting"]["quarantined"] == {"teacher_error": 1}
    row = load_rows(open_store(tmp_path / "s"), "v1").row(0, named=True)
    assert row["adjust"] == json.dumps(ZERO_ADJUST | {"contrast": 10}, separators=(",", ":"))  # q1 exported
    assert row["n_calls"] == 2
    manifest = open_store(tmp_path / "s").manifest("v1")
    assert manifest["parameters"]["batch_input_sha256"] and len(manifest["parameters"]["outcomes_sha256"]) == 1


def test_other_pair_keys_and_inline_outcome(tmp_path: Path) -> None:
    records = [
        {"req": request("Golden Hour", metadata={"exported": True}), "res": completion("c-1", 1709287200, {"hue": 5})},
        {"req": request("Golden Hour", metadata={"exported": "false"}), "res": completion("c-2", 1709287200, {})},
    ]
    logs = write_jsonl(tmp_path / "pairs.jsonl", records)
    assert "matches no log format" in error(tmp_path / "e", "--logs", str(logs))
    report = snapshot(tmp_path / "s", "--logs", str(logs), "--pair-keys", "req,res",
                      "--outcome-field", "req.metadata.exported")  # fmt: skip
    assert report["accounting"]["valid_rows"] == 6 and report["outcomes"]["matched_requests"] == 2
    row = load_rows(open_store(tmp_path / "s"), "v1").row(0, named=True)
    assert row["adjust"] == json.dumps(ZERO_ADJUST | {"hue": 5}, separators=(",", ":"))


def test_gzip_gateway_file(tmp_path: Path) -> None:
    packed = tmp_path / "openai.jsonl.gz"
    packed.write_bytes(gzip.compress(OPENAI.read_bytes()))
    report = snapshot(tmp_path / "s", "--logs", str(packed), "--teacher-model", "gpt-4o-2024-*",
                      "--outcomes", str(FIXTURES / "gateway" / "openai.outcomes.jsonl"))  # fmt: skip
    assert report["accounting"]["input_rows"] == 30 and report["accounting"]["valid_rows"] == 17


def test_outcomes_key_the_cache(tmp_path: Path) -> None:
    """A changed outcomes file recomputes the gateway files (it may change any request); the same one reuses them;
    a databuild-format file's entry does not depend on it."""
    outcomes = tmp_path / "o.jsonl"
    write_jsonl(outcomes, [{"request_id": "chatcmpl-A1", "exported": True}])
    args = ("--logs", str(DATABUILD), "--logs", str(OPENAI), "--outcomes", str(outcomes))
    first = snapshot(tmp_path / "s", *args)
    again = snapshot(tmp_path / "s", *args)
    assert again["reuse"]["files_reused"] == 2 and again["unchanged"]
    write_jsonl(outcomes, [{"request_id": "chatcmpl-A1", "exported": True}, {"request_id": "resp_C1", "exported": 1}])
    changed = snapshot(tmp_path / "s", *args)
    assert changed["reuse"]["files_read"] == 1 and changed["reuse"]["files_reused"] == 1  # the openai file again
    assert changed["fingerprint"] != first["fingerprint"]  # the outcomes' sha256 enters it
    full = snapshot(tmp_path / "f", *args)
    assert full["fingerprint"] == changed["fingerprint"]


def test_incremental_days_give_the_full_build(tmp_path: Path) -> None:
    """Two daily openai files: a build of day 1, then of both, equals the build of both at once. Day 2 logs
    line 1's completion again: its 3 rows become duplicate_event across the files."""
    lines = OPENAI.read_text(encoding="utf-8").splitlines(keepends=True)
    day1, day2 = tmp_path / "d1.jsonl", tmp_path / "d2.jsonl"
    day1.write_text("".join(lines[:7]), encoding="utf-8")
    day2.write_text("".join([*lines[7:], lines[0]]), encoding="utf-8")
    options = ("--outcomes", str(FIXTURES / "gateway" / "openai.outcomes.jsonl"), "--teacher-model", "gpt-4o-2024-*")
    snapshot(tmp_path / "inc", "--logs", str(day1), *options)
    both = snapshot(tmp_path / "inc", "--logs", str(day1), "--logs", str(day2), *options)
    full = snapshot(tmp_path / "full", "--logs", str(day1), "--logs", str(day2), *options)
    assert both["reuse"]["files_reused"] == 1
    assert both["fingerprint"] == full["fingerprint"] and both["accounting"] == full["accounting"]
    assert full["accounting"]["quarantined"]["duplicate_event"] == 3 + 3  # line 3 in day 1, line 1 again in day 2
    assert full["accounting"]["input_rows"] == 30 + 3
    quarantine = pl.read_parquet(open_store(tmp_path / "inc").quarantine_path(both["version"]))
    assert quarantine.filter(pl.col("source_file") == str(day2)).select("source_line", "reason", "tool").rows()[
        -3:
    ] == [
        (9, "duplicate_event", "adjust"),  # day 2's line 9: the copy of line 1
        (9, "duplicate_event", "filter"),
        (9, "duplicate_event", "selective_adjust"),
    ]


def test_no_outcome_matched_warns_with_the_join_key(tmp_path: Path) -> None:
    outcomes = write_jsonl(tmp_path / "o.jsonl", [{"request_id": "order-17", "exported": True}])
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path / "s"), "--logs", str(OPENAI),
                                 "--outcomes", str(outcomes)])  # fmt: skip
    assert result.exit_code == 1  # nothing exported: no intent kept
    assert result.stderr.splitlines()[0] == (
        "warning: no request matched an outcome (join key tried: request_id: a completion's id (openai), LiteLLM's "
        "trace_id, Langfuse's trace_id; against the outcomes' request_id (a Langfuse scores export: its trace_id)); "
        "every request counts as not exported"
    )


def test_outcomes_for_databuild_logs_only_warn(tmp_path: Path) -> None:
    outcomes = write_jsonl(tmp_path / "o.jsonl", [{"request_id": "g1", "exported": False}])
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path / "s"), "--logs", str(DATABUILD),
                                 "--outcomes", str(outcomes), "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "warning: outcomes apply to gateway logs only; the databuild-format files keep their own `exported`"
    )
    plain = snapshot(tmp_path / "p", "--logs", str(DATABUILD))
    assert json.loads(result.stdout)["accounting"] == plain["accounting"]


def test_errors_name_the_file(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert error(store, "--logs", str(DATABUILD), "--log-format", "openai") == (
        f"{DATABUILD}:1: the first record is not in the openai format (expected a request/response pair under "
        "request/response, request_body/response_body, reqPayload/respPayload or a Batch API output line "
        "{custom_id, response: {body}}; keys: event_id, request_id, ts, intent, tool, response, exported, "
        "teacher_model)"
    )
    assert error(store, "--logs", str(OPENAI), "--log-format", "langfuse").startswith(
        f"{OPENAI}:1: the first record is not in the langfuse format"
    )
    unknown = write_jsonl(tmp_path / "unknown.jsonl", [{"foo": 1}, {"bar": 2}])
    assert error(store, "--logs", str(unknown)) == (
        f"{unknown} matches no log format (tried databuild, openai, litellm, langfuse on its first 20 records); "
        "give --log-format, or --pair-keys REQ,RESP for request/response pairs under other keys"
    )
    fake_gz = tmp_path / "logs.jsonl.gz"
    fake_gz.write_bytes(b"not gzip at all")
    assert error(store, "--logs", str(fake_gz)).startswith(f"{fake_gz} is not a valid gzip file")
    no_id = write_jsonl(tmp_path / "outcomes.jsonl", [{"id": "chatcmpl-A1", "exported": True}])
    assert error(store, "--logs", str(OPENAI), "--outcomes", str(no_id)) == (
        f"{no_id}: an outcomes file needs the columns request_id and exported (or is a Langfuse scores export: "
        "trace_id, name, value); it lacks request_id (columns: id, exported)"
    )
    maybe = tmp_path / "maybe.csv"
    maybe.write_text("request_id,exported\nchatcmpl-A1,true\nchatcmpl-A2,maybe\n", encoding="utf-8")
    assert error(store, "--logs", str(OPENAI), "--outcomes", str(maybe)) == (
        f'{maybe}: record 2: exported must be true/false, 0/1 or "true"/"false", not \'maybe\''
    )
    assert error(store, "--logs", str(OPENAI), "--outcomes", str(tmp_path / "none.csv")) == (
        f"outcomes file not found: {tmp_path / 'none.csv'}"
    )
    assert error(store, "--logs", str(OPENAI), "--log-format", "xml") == (
        "--log-format must be one of auto, databuild, openai, litellm, langfuse, not 'xml'"
    )
    assert error(store, "--logs", str(OPENAI), "--pair-keys", "req") == (
        "--pair-keys takes two different key names as REQ,RESP, not 'req'"
    )
    assert error(store, "--logs", str(OPENAI), "--outcome-field", "a..b") == (
        "--outcome-field must be a dotted path such as metadata.exported, not 'a..b'"
    )
    parquet = tmp_path / "logs.parquet"
    parquet.write_bytes(b"PAR1")
    assert error(store, "--logs", str(parquet), "--log-format", "openai") == (
        f"{parquet}: a Parquet file is read in the databuild format only, not openai"
    )


def test_csv_and_parquet_outcomes(tmp_path: Path) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text("request_id,exported\nchatcmpl-A1,1\nchatcmpl-B1,TRUE\nresp_C1,true\n", encoding="utf-8")
    parquet = tmp_path / "o.parquet"
    pl.DataFrame(
        {"request_id": ["chatcmpl-A1", "chatcmpl-B1", "resp_C1"], "exported": [True, True, True]}
    ).write_parquet(parquet)
    common = ("--logs", str(OPENAI), "--teacher-model", "gpt-4o-2024-*")
    by_csv = snapshot(tmp_path / "a", *common, "--outcomes", str(csv))
    by_parquet = snapshot(tmp_path / "b", *common, "--outcomes", str(parquet))
    assert by_csv["outcomes"]["matched_requests"] == by_parquet["outcomes"]["matched_requests"] == 3
    rows_a = load_rows(open_store(tmp_path / "a"), "v1")
    rows_b = load_rows(open_store(tmp_path / "b"), "v1")
    assert rows_a.equals(rows_b)
