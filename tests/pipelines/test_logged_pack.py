"""`snapshot --tools from-logs`: the pack from the tools the logged requests offered (sql/07_logged_tools.sql and
pipelines/logged_pack.py), and `show VERSION --pack`. Expectations written by hand from the lines below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.errors import DatabuildError
from databuild.pack import load_pack
from pipelines.inputs import resolve_inputs
from pipelines.logged_pack import read_logged_pack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smart_home"
LIGHTS_V1 = {
    "name": "set_lights",
    "description": "Lights.",
    "parameters": {"type": "object", "properties": {"brightness": {"type": "integer", "minimum": 0, "maximum": 100}}},
}
LIGHTS_V2 = {**LIGHTS_V1, "description": "Set the lights."}
MUSIC = {
    "name": "play_music",
    "parameters": {
        "type": "object",
        "properties": {"genre": {"type": "string", "enum": ["none", "pop"], "default": "none"}},
    },
}
FAN = {"name": "set_fan", "parameters": {"type": "object", "properties": {"speed": {"type": "number"}}}}
MESSAGES = [{"role": "user", "content": "hi"}]


def nested(*definitions: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": d} for d in definitions]


def openai_line(created: int, tools: list[dict[str, Any]], **request: Any) -> dict[str, Any]:
    return {"request": {"messages": MESSAGES, "tools": tools, **request}, "response": {"id": "c", "created": created}}


LINES = [
    # line 1, 2024-05-02: set_lights v2 and play_music (the Chat Completions shape)
    openai_line(1714608000, nested(LIGHTS_V2, MUSIC)),
    "not JSON at all",  # line 2: no request, no tools
    # line 3, 2024-05-01 (earlier in time, later in the file): set_lights v1, and a custom tool that is not a function
    {
        "id": "l",
        "trace_id": "t",
        "startTime": 1714521600.0,
        "messages": MESSAGES,
        "model_parameters": {"tools": [*nested(LIGHTS_V1), {"type": "custom", "custom": {"name": "grammar"}}]},
    },
    # line 4, 2024-04-30: a Langfuse generation, its input a JSON string with flat (Responses API) tools
    {
        "id": "g",
        "type": "GENERATION",
        "start_time": "2024-04-30 08:00:00.000000",
        "input": json.dumps({"tools": [{"type": "function", **LIGHTS_V1}], "messages": MESSAGES}),
    },
    # line 5, no time: legacy `functions` with a new tool, and play_music again with its keys in another order
    {"request": {"messages": MESSAGES, "functions": [FAN, {"parameters": MUSIC["parameters"], "name": "play_music"}]}},
]


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_each_name_keeps_its_most_recent_definition_and_changes_are_named(tmp_path: Path) -> None:
    warnings: list[str] = []
    pack = read_logged_pack(resolve_inputs([str(write_lines(tmp_path / "a.jsonl", LINES))]), warnings.append)
    # first offered: set_lights and play_music (line 1), set_fan (line 5); set_lights was last offered on
    # 2024-05-02 (line 1: v2); play_music's two texts are one definition read as JSON
    assert json.loads(pack.raw) == {"name": "from-logs", "tools": nested(LIGHTS_V2, MUSIC, FAN)}
    assert pack.names == ("set_lights", "play_music", "set_fan")
    assert pack.tool("play_music").exact_keys == ("genre",)  # no x-quality: the enum is compared exactly
    assert warnings == [
        "warning: --tools from-logs: the definition of set_lights changed over time; the most recent one is used"
    ]


def test_the_most_recent_is_by_time_then_by_position(tmp_path: Path) -> None:
    day1 = write_lines(tmp_path / "day1.jsonl", [openai_line(1714608000, nested(LIGHTS_V1))])
    day2 = write_lines(tmp_path / "day2.jsonl", [openai_line(1714608000, nested(LIGHTS_V2))])  # the same second
    pack = read_logged_pack(resolve_inputs([str(day1), str(day2)]), lambda message: None)
    assert pack.tool("set_lights").description == "Set the lights."  # the later file wins a tie in time
    pack = read_logged_pack(resolve_inputs([str(day2), str(day1)]), lambda message: None)
    assert pack.tool("set_lights").description == "Lights."


def test_a_definition_outside_the_subset_is_the_pack_file_error(tmp_path: Path) -> None:
    pattern = {"type": "string", "enum": ["pop"], "default": "pop", "pattern": "^[a-z]+$"}
    bad = {**MUSIC, "parameters": {"type": "object", "properties": {"genre": pattern}}}
    logs = write_lines(
        tmp_path / "bad.jsonl", [openai_line(1714608000, nested(LIGHTS_V1)), openai_line(1, nested(bad))]
    )
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(json.dumps(nested(bad)), encoding="utf-8")
    with pytest.raises(DatabuildError) as from_file:
        load_pack(pack_file)
    with pytest.raises(DatabuildError) as from_logs:
        read_logged_pack(resolve_inputs([str(logs)]), lambda message: None)
    assert (
        str(from_file.value) == f"tool pack {pack_file}, tool play_music: 'genre': unsupported schema keyword 'pattern'"
    )
    assert str(from_logs.value) == str(from_file.value).replace(str(pack_file), f"from-logs ({logs} line 2)")


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_logs_that_offer_no_tools_are_one_error(tmp_path: Path) -> None:
    result = invoke(
        "snapshot", "--store", tmp_path / "s", "--logs", EXAMPLE / "teacher_logs.jsonl", "--tools", "from-logs"
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: --tools from-logs: no logged request offered a function tool (`tools` or `functions`); "
        "give a pack file with --tools instead\n"
    )
    assert not (tmp_path / "s" / "versions").exists() or not list((tmp_path / "s" / "versions").iterdir())


def test_show_pack_prints_the_stored_pack_and_the_report_says_where_it_came_from(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ("--logs", EXAMPLE / "teacher_logs.jsonl", "--tools", EXAMPLE / "tools.json", "--format", "json")
    result = invoke("snapshot", "--store", store, *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pack"] == {
        "name": "smart_home",
        "source": str(EXAMPLE / "tools.json"),
        "tools": ["set_lights", "set_thermostat", "play_music"],
    }
    shown = invoke("show", report["version"], "--store", store, "--pack")
    assert shown.exit_code == 0 and shown.stderr == ""
    assert shown.stdout == (EXAMPLE / "tools.json").read_text(encoding="utf-8")


def test_a_build_from_the_logs_stores_the_pack_and_show_prints_it_for_reuse(tmp_path: Path) -> None:
    logs = tmp_path / "openai.jsonl"
    assert invoke("simulate", "--out", logs, "--rows", 600, "--intents", 60, "--log-format", "openai").exit_code == 0
    store = tmp_path / "store"
    outcomes = ("--outcomes", tmp_path / "openai.outcomes.jsonl")
    result = invoke("snapshot", "--store", store, "--logs", logs, *outcomes, "--tools", "from-logs")
    assert result.exit_code == 0, result.output
    assert "pack: from the logs (adjust, selective_adjust, filter), stored in the version; " in result.stdout
    assert "warning:" not in result.stderr  # one definition per tool over the whole log
    # the simulated malformed outputs include out-of-range values: the first one names where the ranges come from
    assert "the valid values are listed in the tools the logged requests offered (--tools from-logs)" in result.stderr
    shown = invoke("show", "v1", "--store", store, "--pack")
    colour = json.loads((Path(__file__).resolve().parents[2] / "databuild/packs/colour/tools.json").read_text())
    # the colour pack as the app offered it: the pack's x- keys are not sent to the API
    expected = [{"type": "function", "function": {k: v for k, v in t["function"].items() if not k.startswith("x-")}}
                for t in colour["tools"]]  # fmt: skip
    assert json.loads(shown.stdout) == {"name": "from-logs", "tools": expected}
    pack_file = tmp_path / "pack.json"
    pack_file.write_text(shown.stdout, encoding="utf-8")
    again = invoke("snapshot", "--store", store, "--logs", logs, *outcomes, "--tools", pack_file, "--format", "json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["unchanged"] and report["version"] == "v1"  # the same pack bytes: the same version
    assert report["pack"] == {
        "name": "from-logs",
        "source": str(pack_file),
        "tools": ["adjust", "selective_adjust", "filter"],
    }
