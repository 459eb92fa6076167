"""Gateway lines load with the request's offered tools cut down to their names (pipelines/slim_lines.py): where the
list is found, what it is cut to, that a list DuckDB would read differently stays whole, and that a build gives
the rows, the accounting and the quarantine (each rejected row's ORIGINAL line, byte for byte) of the whole lines."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import pipelines.snapshot as snapshot_module
from databuild.cli import app
from databuild.contracts import load_rows
from databuild.sqlrun import connect
from databuild.store import open_store
from pipelines.inputs import InputFile, load_jsonl_lines
from pipelines.slim_lines import MAX_TEXTS, ToolsSlimmer, list_start, request_keys

OPENAI_KEYS = ("request", "request_body", "reqPayload")
runner = CliRunner()


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('{"request":{"tools":[1]}}', True),
        ('{"id":"x","response":{"tools":[9]},"request":{"model":"m","tools":[1]}}', True),  # after other members
        ('  { "request" : { "messages" : [ ] ,\t"tools" :  [1] } }', True),  # whitespace anywhere
        ('{"req\\u0075est":{"tools":[1]}}', True),  # the key as JSON reads it
        ('{"request":{"tools":[1]},"request":{"tools":[2]}}', True),  # the first of repeated keys, as DuckDB reads
        ('{"reqPayload":{"tools":[1]}}', True),
        ('{"request":"text","request_body":{"tools":[1]}}', False),  # the first request member is not an object
        ('{"request":{"tools":{"a":[1]}}}', False),  # not a list
        ('{"request":{"messages":[}, "tools":[1]}}', False),  # not JSON before the list
        ('{"metadata":{"tools":[1]}}', False),  # not a request member
        ('["request",{"tools":[1]}]', False),
        ("", False),
        ("\x00\ufffd{}", False),
    ],
)
def test_list_start(line: str, found: bool) -> None:
    """Where the request's list starts: the `[1]` of each line, never another list."""
    assert list_start(line, OPENAI_KEYS) == (line.index("[1]") if found else None)


def test_request_keys() -> None:
    assert request_keys(None, None) == {"openai": frozenset(OPENAI_KEYS), "litellm": frozenset({"model_parameters"})}
    assert request_keys("req", "metadata.exported")["openai"] == frozenset({*OPENAI_KEYS, "req"})
    # --outcome-field inside a list that would be cut: that format's lines stay whole
    assert set(request_keys(None, "request.tools.0.exported")) == {"litellm"}
    assert set(request_keys(None, "model_parameters.tools")) == {"openai"}


def loaded(tmp_path: Path, lines: list[str], log_format: str = "openai") -> pl.DataFrame:
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = connect()
    item = InputFile(path, "jsonl", "0" * 64, 1, log_format)
    load_jsonl_lines(con, [item], request_keys(None, None))
    frame = con.sql(
        "SELECT source_line, line, tools_id, tools_at, tools_chars, tools, "
        "try(json_extract_string(line, '$.request.tools[*].function.name')) AS fn, "
        "try(json_extract_string(line, '$.request.tools[*].name')) AS flat "
        "FROM gateway_lines LEFT JOIN gateway_tools USING (tools_id) ORDER BY source_line"
    ).pl()
    con.close()
    return frame


def restored(row: dict) -> str:
    if row["tools_id"] is None:
        return row["line"]
    return row["line"][: row["tools_at"]] + row["tools"] + row["line"][row["tools_at"] + row["tools_chars"] :]


def test_lists_cut_to_names_once_per_distinct_text(tmp_path: Path) -> None:
    chat = [{"type": "function", "function": {"name": "adjust", "description": "Grade é😀", "parameters": {}}},
            {"type": "function", "function": {"name": "filter", "parameters": {"type": "object"}}}]  # fmt: skip
    flat = [{"type": "function", "name": "adjust", "parameters": {}}, {"type": "web_search"}]  # Responses API
    lines = [
        json.dumps({"request": {"messages": [], "tools": chat}, "response": {"id": "a"}}, ensure_ascii=False),
        json.dumps({"request": {"messages": [], "tools": chat}, "response": {"id": "b"}}),  # the same, escaped
        json.dumps({"request": {"input": "x", "tools": flat}}),
        json.dumps({"request": {"tools": chat}}) + " trailing",  # broken after the list: still cut, still broken
    ]
    frame = loaded(tmp_path, lines)
    rows = frame.to_dicts()
    assert [restored(row) for row in rows] == lines
    assert frame["line"][0] == '{"request": {"messages": [], "tools": ' + (
        '[{"function":{"name":"adjust"}},{"function":{"name":"filter"}}]}, "response": {"id": "a"}}'
    )
    # the same list written with a raw é and with an escaped one is two texts, each learnt once
    assert frame["tools_id"].to_list() == [1, 2, 3, 2]
    assert frame["fn"].to_list()[:3] == [["adjust", "filter"], ["adjust", "filter"], []]
    assert frame["flat"].to_list()[2] == ["adjust"]


def test_lists_duckdb_reads_otherwise_stay_whole(tmp_path: Path) -> None:
    lines = [
        '{"request":{"tools":[{"function":{"name":"a"}}],"x":1}}',
        '{"request":{"tools":[{"function":{"name":"\\ud800"}}]}}',  # a lone surrogate: not JSON to DuckDB
        '{"request":{"tools":[{"name":"a","name":"b"}]}}',  # DuckDB reads the first: cut to it
    ]
    frame = loaded(tmp_path, lines)
    assert frame["tools_id"].to_list() == [1, None, 3]
    assert frame["line"].to_list()[1] == lines[1]
    assert frame["line"].to_list()[2] == '{"request":{"tools":[{"name":"a"}]}}'


def test_a_refused_list_is_not_learnt_again() -> None:
    con = connect()
    con.execute("CREATE TABLE gateway_tools (tools_id INTEGER, tools VARCHAR)")
    slimmer = ToolsSlimmer(con, request_keys(None, None))
    slimmer.start_file("openai")
    line = '{"request":{"tools":[{"function":{"name":"\\ud800"}}]}}'
    assert slimmer.slim([line, line, line])["tools_id"] == [None, None, None]
    assert slimmer.learnt == 1  # one query for the three lines
    con.close()


def test_a_file_of_ever_new_lists_stops_being_cut(tmp_path: Path) -> None:
    lines = [json.dumps({"request": {"tools": [{"name": f"t{n}"}]}}) for n in range(MAX_TEXTS + 2)]
    frame = loaded(tmp_path, lines)
    assert frame["tools_id"].null_count() == 2
    assert frame["line"].to_list()[-2:] == lines[-2:]


def test_langfuse_lines_stay_whole(tmp_path: Path) -> None:
    line = json.dumps({"type": "GENERATION", "input": json.dumps({"tools": [{"name": "a"}]}), "request": {"tools": []}})
    assert loaded(tmp_path, [line], "langfuse")["line"].to_list() == [line]


def build(store: Path, log: Path, outcomes: Path) -> dict:
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--format", "json", "--test-fraction", "0",
                                 "--logs", str(log), "--outcomes", str(outcomes)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_build_quarantine_keeps_the_original_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    definitions = {"type": "object", "description": "Gradé 😀 " * 200, "properties": {"exposure": {"type": "number"}}}
    tools = [{"type": "function", "function": {"name": name, "parameters": definitions}}
             for name in ("adjust", "selective_adjust", "filter")]  # fmt: skip

    def line(rid: str, text: str, arguments: str, name: str = "adjust") -> str:
        call = {"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}
        return json.dumps({
            "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "tools": tools},
            "response": {"id": rid, "created": 1709287200, "model": "gpt-4o",
                         "choices": [{"message": {"role": "assistant", "content": "Why ✓", "tool_calls": [call]}}]},
        }, ensure_ascii=False)  # fmt: skip

    lines = [
        line("r1", "warm", '{"exposure": 10}'),
        line("r2", "cold", "{not json"),  # no JSON object in the arguments: no_json
        line("r3", "teal", '{"exposure": 5}', name="crop"),  # unknown_tool
        line("r1", "warm", '{"exposure": 10}'),  # the same completion again: duplicate_event
        line("r4", "dusk", '{"exposure": 7}')[:2000],  # cut inside the tools: bad_record
    ]
    log = tmp_path / "log.jsonl"
    log.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")  # CRLF: the record is the line without \r
    outcomes = tmp_path / "o.jsonl"
    outcomes.write_text('{"request_id": "r1", "exported": true}\n', encoding="utf-8")
    report = build(tmp_path / "cut", log, outcomes)
    assert report["accounting"]["quarantined"] == {
        "bad_record": 1, "duplicate_event": 3, "no_json": 1, "unknown_tool": 1,
    }  # fmt: skip
    quarantine = pl.read_parquet(open_store(tmp_path / "cut").quarantine_path("v1"))
    assert quarantine["record"].to_list() == [lines[n - 1] for n in quarantine["source_line"]]
    assert sorted(set(quarantine["source_line"])) == [2, 3, 4, 5]
    # the same build with every line whole gives the same version
    monkeypatch.setattr(snapshot_module, "request_keys", lambda *_: {})
    assert build(tmp_path / "whole", log, outcomes)["accounting"] == report["accounting"]
    whole = pl.read_parquet(open_store(tmp_path / "whole").quarantine_path("v1"))
    assert whole.equals(quarantine)
    cut_manifest, whole_manifest = (open_store(tmp_path / name).manifest("v1") for name in ("cut", "whole"))
    assert cut_manifest["fingerprint"] == whole_manifest["fingerprint"]
    assert load_rows(open_store(tmp_path / "whole"), "v1").equals(load_rows(open_store(tmp_path / "cut"), "v1"))


def test_lines_not_utf8_are_bad_records_marked_as_before(tmp_path: Path) -> None:
    """A gateway line that is not valid UTF-8 is a bad_record whose record has U+FFFD for the bad bytes, after a NUL
    at each of them, or once at the start of the line when its block also holds a literal U+FFFD."""
    good = json.dumps({"request": {"messages": [{"role": "user", "content": "warm"}], "tools": []}})
    broken = b'{"request": {"messages": [{"role": "user", "content": "w\xffrm"}]}}'
    literal = json.dumps({"id": "\ufffd"}, ensure_ascii=False).encode()
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(good.encode() + b"\n" + broken + b"\n")
    assert loaded_lines(plain)[1] == '{"request": {"messages": [{"role": "user", "content": "w\x00\ufffdrm"}]}}'
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(literal + b"\n" + broken + b"\n")
    assert loaded_lines(mixed) == [
        '{"id": "\ufffd"}',
        '\x00{"request": {"messages": [{"role": "user", "content": "w\ufffdrm"}]}}',
    ]


def loaded_lines(path: Path) -> list[str]:
    con = connect()
    load_jsonl_lines(con, [InputFile(path, "jsonl", "0" * 64, 1, "openai")], request_keys(None, None))
    lines = [row[0] for row in con.sql("SELECT line FROM gateway_lines ORDER BY source_line").fetchall()]
    con.close()
    return lines


def test_a_refused_list_last_in_its_block_lets_the_block_load(tmp_path: Path) -> None:
    """The refused list's query result is fetched whole: the block's insert that follows on the same connection
    used to fail ("unfinished result") when a refused list was the last one learnt in its block."""
    lines = ['{"request":{"tools":[{"function":{"name":"\\ud800"}}]}}', '{"request":{"messages":[]}}']
    frame = loaded(tmp_path, lines)
    assert frame["line"].to_list() == lines
    assert frame["tools_id"].to_list() == [None, None]
